package lock

import (
	"context"
	"errors"
	"fmt"
	"github.com/aside-go/aside/internal/script"
	"strconv"
)

// SetFenced writes value to the Redis hash at key (fields "value" and
// "fence") only if fence is not older than the fence stored there by an
// earlier SetFenced; otherwise it returns [ErrStaleFence] and writes
// nothing. Pass [Lock.Fence]: a holder that stalled past its lease and
// writes after a newer holder has written is rejected. The same holder
// may write many times (an equal fence is accepted).
//
// key is used as given, without the Client's prefix; it is the resource's
// own key, not the lock's. The hash never expires, since an expired fence
// would let a stale write through.
func (c *Client) SetFenced(ctx context.Context, key, value string, fence int64) error {
	if fence < 1 {
		return fmt.Errorf("lock: fence %d: fences are at least 1", fence)
	}
	n, err := script.FenceSet.Run(ctx, c.rdb, []string{key}, value, strconv.FormatInt(fence, 10)).Int64()
	if err != nil {
		return fmt.Errorf("lock: set fenced %q: %w", key, err)
	}
	if n == 0 {
		return ErrStaleFence
	}
	return nil
}

// GetFenced reads a resource written by [Client.SetFenced]: its value and
// the fence of the write that stored it. A missing key gives "", 0, nil.
func (c *Client) GetFenced(ctx context.Context, key string) (value string, fence int64, err error) {
	res, err := script.FenceGet.Run(ctx, c.rdb, []string{key}).Slice()
	if err != nil {
		return "", 0, fmt.Errorf("lock: get fenced %q: %w", key, err)
	}
	if len(res) != 2 || res[0] == nil || res[1] == nil {
		return "", 0, nil
	}
	v, ok1 := res[0].(string)
	fs, ok2 := res[1].(string)
	if !ok1 || !ok2 {
		return "", 0, errors.New("lock: get fenced: unexpected reply")
	}
	fence, err = strconv.ParseInt(fs, 10, 64)
	if err != nil {
		return "", 0, fmt.Errorf("lock: get fenced %q: %w", key, err)
	}
	return v, fence, nil
}

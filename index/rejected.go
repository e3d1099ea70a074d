package index

import (
	"bytes"
	"encoding/json"

	bolt "go.etcd.io/bbolt"
)

// bRejected files every op the fold ignored twice: under
// "task/<task-id>/<order>" and "feed/<key-id>/<order>", so that `task show`
// can say a lease was lost and sync can tell an actor which of its ops the
// fold now ignores, without reading the whole log.
var bRejected = []byte("rejected")

// noteRejected files one rejected op's log entry.
func (tx *Tx) noteRejected(le *LogEntry, raw []byte) error {
	b, err := tx.btx.CreateBucketIfNotExists(bRejected)
	if err != nil {
		return err
	}
	if le.Task != "" {
		if err := b.Put([]byte("task/"+le.Task+"/"+le.Order), raw); err != nil {
			return err
		}
	}
	return b.Put([]byte("feed/"+le.Feed+"/"+le.Order), raw)
}

// RejectedOps returns, in fold order, the ops the fold ignored that name
// a task (task != "") or sit in a feed (feed != "").
func (ix *Index) RejectedOps(task, feed string) ([]LogEntry, error) {
	prefix := []byte("task/" + task + "/")
	if task == "" {
		prefix = []byte("feed/" + feed + "/")
	}
	out := []LogEntry{}
	err := ix.view(func(tx *bolt.Tx) error {
		b := tx.Bucket(bRejected)
		if b == nil {
			return nil
		}
		c := b.Cursor()
		for k, v := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, v = c.Next() {
			var le LogEntry
			if err := json.Unmarshal(v, &le); err != nil {
				return err
			}
			out = append(out, le)
		}
		return nil
	})
	return out, err
}

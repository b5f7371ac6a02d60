// Package fs is the backend.Store of a local directory: the engine of `fs`
// offers, and of the embedded default deployment.
//
// # Layout
//
// Blob names are segments of [A-Za-z0-9._-] separated by '/' (see
// backend.ValidName). Every segment but the last is a directory; the last is
// a file named after it with the mark '+' appended, so blob "obj/3f/3fa9" is
// the file DIR/obj/3f/3fa9+. The mark is a byte that no name contains, which
// gives three properties a plain DIR/<name> layout lacks:
//
//   - "a" and "a/b" can both be blobs (files "a+" and "a/b+"), as the flat
//     namespace of backend.Store requires;
//   - the store's own files, "+tmp" (uploads in progress) and "+lock", can
//     never be mistaken for blobs or collide with a name;
//   - List recognises foreign entries (lost+found, an operator's notes) by
//     their name alone and skips them.
//
// # Durability
//
// Put streams into a fresh file in DIR/+tmp, checks the byte count, fsyncs
// the file, renames it over the final path and fsyncs the directories whose
// entries changed: the blob's own, and any created on the way (a directory
// is synced into its parent once, then remembered). When Put returns nil the
// blob survives a crash of the process or the machine; before the rename,
// nothing of it is visible under its name. Delete is durable the same way.
//
// Concurrent Puts fsync concurrently, and the file system shares the cost:
// ext4 (jbd2) and XFS turn the fsyncs that arrive while a journal commit
// runs into one next commit, which is group commit done where it knows what
// each fsync needs. A user-space group commit (a committer goroutine that
// fsyncs and renames a batch of files, then fsyncs each distinct directory
// once) was built and measured against it on the development machines
// (ext4 on a virtio disk): it was never faster, and reached 0.4 to 0.75 of
// the 4 KiB Puts per second at 16 writers, because fsyncs issued all at once
// there queue behind each other. It is off; BenchmarkPutConcurrent compares
// the two on any disk.
//
// Open takes an exclusive lock on DIR (flock on DIR/+lock, so two stores,
// in one process or two, never share a directory) and removes what a
// previous process left in DIR/+tmp. Delete removes the directories it
// empties; a Put racing that removal recreates its directory and retries.
//
// Get returns a reader backed by the *os.File: io.Copy to a plain TCP
// connection (net/http) uses sendfile, and to a file copy_file_range.
package fs

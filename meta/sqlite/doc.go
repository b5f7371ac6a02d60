// Package sqlite implements meta.Store in one SQLite database file: the
// metadata store of the embedded deployment (`coffre serve` with no
// configuration), where one process owns the data directory. Sites with
// several gateway nodes use meta/postgres instead; both pass meta/metatest.
//
// The store is a single table, kv(k BLOB PRIMARY KEY NOT NULL, v BLOB NOT
// NULL): rows in a rowid b-tree, keys in the primary key's index. SQLite
// compares BLOBs with memcmp and then by length, which is exactly bytewise
// order, so Scan needs no collation. A WITHOUT ROWID table (schema version 1)
// kept whole rows in the key's b-tree, where records and index nodes of
// 0.5 to 8 KiB left room for a handful of rows per 4 KiB page: a random
// insert split a leaf every few rows and rewrote its siblings and parent.
// New rows now append to the table, and the index holds only short keys.
// PRAGMA user_version records the schema version for later migrations.
//
// Durability. The database runs in WAL mode with synchronous=FULL. In WAL
// mode synchronous=NORMAL does not fsync the WAL at commit, only at
// checkpoints: a committed transaction is then safe from a crash of the
// process (its pages are in the kernel's page cache) but not from a power
// loss or kernel crash, which can drop the last transactions. Update
// promises machine-crash durability, so every commit fsyncs the WAL.
//
// Group commit. That fsync is the cost of a small Update, so concurrent
// Updates share it: one writer goroutine owns the only write connection and
// runs every waiting Update's fn in one SQLite transaction, then commits
// once; each Update returns after that commit. The fns' writes go to
// overlays in memory (overlay.go), one per call over one for the batch: a
// call sees its own writes and those of the calls before it, a call that
// fails drops its overlay and takes nothing else with it, and the batch's
// writes reach SQLite once per key, in key order, just before the COMMIT.
// A lone Update is committed at once, without waiting for company; batches
// form by themselves while a commit is in progress, the calls that queue
// while a batch's fns run join it before its COMMIT, and batches are
// bounded (256 calls, or about 5 ms of running fns). The fns of a batch run one after
// the other on one connection, so Updates are serializable in the order they
// ran. When a batch cannot commit, the calls it held are run again one by
// one (meta.Store allows fn to run more than once), so that one bad call
// does not fail its neighbours.
//
// Checkpoints. A goroutine of its own copies the WAL into the database file
// (a PASSIVE checkpoint, on its own connection) at most every 100 ms while
// Updates commit, rather than SQLite's automatic checkpoint inside the
// COMMIT of whichever batch crossed 1000 pages, which every Update waits for.
// The writer keeps the automatic checkpoint past 4096 pages: under a steady
// load the passive ones never catch up with the last commit, and only a
// complete checkpoint lets the WAL start over instead of growing.
//
// Reads. View takes a connection from a bounded pool of read-only
// connections; in WAL mode readers see the last commit as of their first
// read and neither block nor are blocked by the writer.
//
// Slices returned by Get and passed to Scan's fn stay valid until the
// transaction ends, as meta.Tx says: the driver copies every column into
// fresh Go memory (and an Update's reads of its overlays get copies), so the
// store copies nothing more. Beyond meta.Tx:
//   - Scan's fn may Get and Scan, but Put and Delete return an error until
//     Scan returns (a cursor over rows being modified has no defined
//     behaviour in SQLite); collect the keys, write after.
//   - An Update's fn must not call Update on the same store (it runs on the
//     writer goroutine, which would wait for itself), and a View's fn should
//     not call View (with the reader pool exhausted, it would wait forever).
//   - A Tx is used by one goroutine at a time.
package sqlite

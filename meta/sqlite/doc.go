// Package sqlite implements meta.Store in one SQLite database file: the
// metadata store of the embedded deployment (`coffre serve` with no
// configuration), where one process owns the data directory. Sites with
// several gateway nodes use meta/postgres instead; both pass meta/metatest.
//
// The store is a single table, kv(k BLOB PRIMARY KEY, v BLOB NOT NULL), in a
// WITHOUT ROWID b-tree keyed by k. SQLite compares BLOBs with memcmp and then
// by length, which is exactly bytewise order, so Scan needs no collation.
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
// runs every waiting Update's fn in one SQLite transaction, each inside its
// own SAVEPOINT (an fn that fails rolls back to its savepoint and takes
// nothing else with it), then commits once; each Update returns after that
// commit. A lone Update is committed at once, without waiting for company;
// batches form by themselves while a commit is in progress, and are bounded
// (256 calls, or about 5 ms of running fns). The fns of a batch run one after
// the other on one connection, so Updates are serializable in the order they
// ran. When a batch cannot commit, the calls it held are run again one by
// one (meta.Store allows fn to run more than once), so that one bad call
// does not fail its neighbours.
//
// Reads. View takes a connection from a bounded pool of read-only
// connections; in WAL mode readers see the last commit as of their first
// read and neither block nor are blocked by the writer.
//
// Slices returned by Get and passed to Scan's fn stay valid until the
// transaction ends, as meta.Tx says: the driver copies every column into
// fresh Go memory, so the store copies nothing more. Beyond meta.Tx:
//   - Scan's fn may Get and Scan, but Put and Delete return an error until
//     Scan returns (a cursor over rows being modified has no defined
//     behaviour in SQLite); collect the keys, write after.
//   - An Update's fn must not call Update on the same store (it runs on the
//     writer goroutine, which would wait for itself), and a View's fn should
//     not call View (with the reader pool exhausted, it would wait forever).
//   - A Tx is used by one goroutine at a time.
package sqlite

// Package index keeps the names of a bucket's objects in order without
// storing them in clear: an ordered map from object key to a small value,
// held as a B+-tree whose nodes are sealed records of the metadata store.
//
// # Role
//
// Object names are secret at rest: the vault keys an object's records by a
// keyed hash of its name, so the metadata store holds no name and its key
// order says nothing of theirs. S3 listings still need names in order
// (prefix, delimiter, start-after, continuation tokens, over buckets of
// millions of keys). A Tree per bucket gives that order back: the vault
// puts and deletes a bucket's names in it in the same transaction as the
// object records, and walks it with Scan to list.
//
// # Structure
//
// The root is node 0, always. Leaves hold sorted (key, value) entries;
// internal nodes hold child ids and, between children, separators: the
// shortest prefix of the first key on the right that sorts after the last
// key on the left ("photos/2026" between "photos/2025/12/z.jpg" and
// "photos/2026/01/a.jpg"), which keeps internal nodes small. Keys within a
// node are prefix-compressed, so a node of names that share directories
// holds far more of them than their full length suggests.
//
// Node ids are random 64-bit numbers from crypto/rand, checked unused before
// their first write. A counter would be one more record written on every
// split, and a point of conflict between transactions that change
// different parts of one bucket's tree.
//
// A node whose encoding grows beyond MaxNodeBytes is split where its bytes
// are halved, or before its last entry when the change appended to it:
// names that arrive in ascending order (logs, backups, time-stamped keys)
// then leave full nodes behind instead of half-empty ones. When the root
// splits, its content moves to new nodes and the root, still node 0,
// becomes their parent. A node left empty leaves its parent; a node that a
// Delete leaves under a quarter of MaxNodeBytes is merged with a sibling, or
// shares entries with it when both do not fit in one node. Merging costs a
// sibling read and a parent write on some Deletes; without it, a bucket that
// lost most of its names in scattered order would keep nearly empty leaves,
// and its listings would read many times more nodes than its names need. A
// root left with one child gives way to it, so the tree also gets shallower.
//
// Scan keeps the path from the root to the current leaf, so that moving to
// the next leaf reads only the nodes that change; no sibling pointers are
// stored (they would make every split rewrite a neighbour).
//
// # Format
//
// A node is the record Prefix || id (8 bytes, big-endian), whose value is
// nonce || AEAD.Seal(plaintext) with the record's key as additional data.
// The plaintext of a node, version 1:
//
//	version   1 byte    1
//	level     1 byte    0 for a leaf; a child is one level below its parent
//	count     uvarint   number of entries
//	leaf entry, count times:
//	  shared  uvarint   length of the prefix shared with the previous key
//	  length  uvarint   length of the rest of the key
//	  suffix  bytes     the rest of the key
//	  vlen    uvarint   length of the value (at most 64)
//	  value   bytes
//	internal node:
//	  child   8 bytes   id of the first child
//	  then, count-1 times, a separator and the child on its right:
//	  shared, length, suffix (as in a leaf), child (8 bytes)
//	padding   zeros to the next multiple of 256 bytes
//
// Keys are 1 to 1024 bytes and strictly ascending within a node, shared is
// the longest common prefix with the previous key (0 for the first), and
// varints are minimal: the decoder accepts exactly what the encoder writes
// and rejects anything else, garbage included, without panicking.
//
// # Threat model
//
// Someone who reads the metadata store but not the key (a backup, a copy of
// the database file, the administrator of a database server) finds no name
// and no value, whole or in part: every byte of them is inside a sealed
// node. What they learn:
//   - for each tree, the number of nodes and the size of each, rounded up to
//     256 bytes: about the total length of the bucket's names after prefix
//     compression, so its scale, not its names; a tree of one small node
//     shows no more than "a few short names";
//   - which record is the root (node 0), and nothing else of the tree's
//     shape: levels and child ids are encrypted;
//   - watching writes over time: which node each Put or Delete rewrites, so
//     which changes touch neighbouring names, and when a bucket grows
//     (new nodes) or shrinks (nodes removed);
//   - watching reads: how many leaves a listing reads.
//
// Someone who can also write to the store cannot make the tree answer with
// data of their choosing: a node altered, truncated, swapped with another,
// or moved from another tree fails authentication (the additional data
// binds it to its tree and id); a node removed, or one that does not fit in
// the range its parent gives it, fails the checks made on the way down.
// All of these are ErrIntegrity. What authentication cannot see is a node
// replaced by an older version of itself that still fits (a rollback): the
// tree then misses recent changes, as any record of the store would. Errors
// name the tree and the node, never a key.
//
// Every write seals a node under a fresh random nonce, and every Put or
// Delete writes at least one: with AES-GCM's 96-bit nonces, a key must
// seal fewer than 2^32 nodes over its life, which a busy bucket can reach
// in a few years. XChaCha20-Poly1305 (golang.org/x/crypto/chacha20poly1305,
// 192-bit nonces) has no such limit; the tree takes the nonce size from
// the AEAD it is given.
//
// # Costs
//
// With N keys, leaves of E entries and internal nodes of F children (16 KiB
// nodes of 31-byte names hold about 950 and 1,300), the depth d is about
// 1 + log_F(N/E): 2 up to a million names, 3 up to a billion. Each node
// read is a store Get, an AEAD open and a decode of up to MaxNodeBytes.
//   - Get: d node reads.
//   - Put: d reads and one node write; a split writes the new nodes and
//     the parent (and reads once to check each new id is free).
//   - Delete: d reads and one write; a merge adds a sibling read and writes.
//   - Scan of k keys: d + k/E node reads, each node read once.
//   - Drop: one scan of the store under Prefix and one delete per node; it
//     reads no node, so it needs no key.
//
// Each Put or Delete rewrites a whole leaf: MaxNodeBytes trades the bytes
// written per change against the nodes read per listing. On meta/sqlite
// (bench_test.go: 100,000 names of 31 bytes, 100 changes per Update, on a
// shared 2-vCPU machine, so give or take a factor of two), 16 KiB nodes
// store the names in 130 nodes of depth 2, 17 bytes per name, and do about
// 9,000 Puts/s in random order and 16,000 in ascending order, 19,000 Gets/s
// (a View each), a page of 1,000 keys in 0.1 ms and a full Scan at 10 to 17
// million keys/s. 4 KiB nodes make Puts 1.3 to 2 times faster and a full
// Scan up to 40% slower.
package index

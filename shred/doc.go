// Package shred is Rewind's crypto-shredding: every data subject (a
// visitor of a tenant) has data keys of their own, personal fields are
// written to Kafka and to disk only sealed under them, and erasing the
// subject destroys the keys, which leaves every sealed value unreadable
// for good while the facts around it (versions, times, statuses) stay.
//
// Its parts, each the one definition of its format:
//
//   - Token: a sealed field, "~pd1:<field>:<base64url(key id, nonce,
//     AES-256-GCM ciphertext)>", bound by its associated data to the
//     tenant, the stream and the field, so that a token moved to another
//     stream or field does not open.
//   - Keyring: the key-encryption keys (KEK) that wrap data keys, from a
//     file (-kek-file) or, later, a KMS. A KEK never enters Kafka.
//   - Record: a value of the compacted topic schedule-keys: a live data
//     key, wrapped and bound to its tenant, subject, partition and id;
//     or the permanent record that it was destroyed.
//   - Table: the keys a component holds in memory, from the records it
//     read; a destroyed record drops the key at once.
//
// docs/privacy.md says where keys are created, why no two instances can
// create two live keys for one subject and partition, and what an
// operator must keep. The package imports only the standard library and
// never logs: nothing here may carry a personal value out.
package shred

//! Scrubbing: secrets and personal data are replaced by `[Filtered]` on the worker, before an event leaves the
//! process for any transport (the HTTP transport, a JSON-lines file, a transport of the program's own).
//!
//! Unless `send_default_pii` is on, two scrubbers run:
//!
//! - **Keys** ([`keys`]): every value in `extra`, `contexts`, the user's `data`, breadcrumb `data` and `tags` whose
//!   key contains a denylisted word (`password`, `token`, `cookie`, …, plus `ClientOptions::scrub_key` words) is
//!   replaced, at any depth of nested objects.
//! - **Values** ([`values`]): free text (the event's message, each exception's value, each breadcrumb's message)
//!   loses the secrets written into it, and only them. The built-in rules ([`secrets`]), on unless
//!   `ClientOptions::scrub_values(false)`:
//!   - authorization headers, their whole value: `Authorization: Bearer xyz` → `Authorization: [Filtered]`
//!     (also `Proxy-Authorization`, `=` for `:`, and quoted values);
//!   - authorization schemes with their credentials: `Bearer <token>` (unless the word after it is `token`,
//!     `auth`, …), `Basic <base64 of user:password>`, `Token <16 or more characters with a digit>`;
//!   - key-value pairs whose key ends in `password`, `passwd`, `passphrase`, `secret`, `token`, `api_key`,
//!     `apikey`, `secret_key`, `private_key` or `secret_access_key` (any case, with `-`, `_` or nothing between
//!     words), with `=` or `:` and a bare, single- or double-quoted value: the key stays, the value goes
//!     (`password=[Filtered]`, `"db_password": "[Filtered]"`);
//!   - the password of a URL: `https://user:[Filtered]@host`;
//!   - the body of a PEM private key, between `-----BEGIN … PRIVATE KEY-----` and its `END` line (or the end of
//!     the text);
//!   - payment card numbers: 13 to 19 digits, optionally grouped by single spaces or dashes, with a card network's
//!     issuer prefix and a valid Luhn checksum ([`card`]).
//!
//!   Patterns added with `ClientOptions::scrub_pattern` apply too, with or without the built-in rules: each
//!   match is filtered, or only what its capture groups capture when it has any.
//!
//! The rules aim at secrets that are certainly secrets, so ordinary text stays readable: `password reset
//! requested`, `tokenizer=fast`, a `Bearer` without a token, a URL without a password, a certificate, or an order
//! number that fails the checksum are left as they are.
//!
//! Value scrubbing runs before the size limits cut long text, so a secret cannot be cut in half and leak its
//! first part. Text without a secret costs a byte scan for card numbers and one pass of the rules' regex, and no
//! allocation.

pub(crate) mod basic_auth;
pub(crate) mod card;
pub(crate) mod keys;
pub(crate) mod patterns;
pub(crate) mod scrubber;
pub(crate) mod secrets;
pub(crate) mod values;

/// What replaces a scrubbed value.
pub(crate) const FILTERED: &str = "[Filtered]";

//! A log file rotated by size, like Python's `logging.handlers.RotatingFileHandler`, and the [`FlushPolicy`] that
//! says when its lines reach the disk.
//!
//! [`RotatingFile`] is the crate's own: users see its rules in the "Rotation" and "Lines and locking" sections of
//! [`JsonLinesSink`](super::JsonLinesSink), the one thing that writes through it. [`FlushPolicy`] is public, as a
//! setting of the sink's builder.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

/// Lines waiting under [`FlushPolicy::Batched`] are written once they reach this many bytes, whatever the policy's
/// limits, so a large `max_lines` cannot hold much memory.
const MAX_PENDING_BYTES: usize = 64 * 1024;

/// When lines reach the file.
///
/// "Reach the file" means a `write` to the operating system: that survives the process crashing or calling
/// `abort`, but not a power loss or kernel crash, for which the file would have to be `fsync`ed (faultline never
/// does; it would cost milliseconds per line).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum FlushPolicy {
    /// Every line is written as soon as it is formatted. A crash loses nothing that was written. The default.
    #[default]
    EveryLine,
    /// Lines wait in memory and are written together, which costs fewer system calls when lines come fast.
    ///
    /// The waiting lines are written when `max_lines` of them have gathered, when a line arrives and the oldest
    /// waiting one is at least `max_delay` old, when 64 KiB are waiting, when the sink is flushed
    /// ([`Transport::flush`](crate::transport::Transport::flush), which the SDK's `flush`, its shutdown and its panic
    /// hook reach) and when it is dropped. A crash therefore
    /// loses at most `max_lines - 1` lines, and, as long as lines keep coming, none older than `max_delay`.
    ///
    /// No thread watches the clock: the delay is checked on each write and by `flush`. If the program goes quiet,
    /// the last lines wait until the next write, flush or drop; call `faultline::flush` periodically if that
    /// matters. A `max_lines` of 0 is treated as 1.
    Batched {
        /// Write once this many lines are waiting.
        max_lines: usize,
        /// Write when a line arrives and the oldest waiting line is at least this old.
        max_delay: Duration,
    },
}

/// Settings for a [`RotatingFile`]; made by [`RotatingFile::builder`].
#[derive(Clone, Debug)]
#[must_use = "a builder does nothing until `open` is called"]
pub(crate) struct RotatingFileBuilder {
    path: PathBuf,
    max_bytes: u64,
    max_files: usize,
    flush_policy: FlushPolicy,
}

impl RotatingFileBuilder {
    /// Sets the size in bytes past which the file is rotated. Defaults to 5 MiB (`5 * 1024 * 1024`).
    ///
    /// A value of 0 makes [`RotatingFileBuilder::open`] fail; use `u64::MAX` never to rotate.
    pub(crate) fn max_bytes(mut self, max_bytes: u64) -> Self {
        self.max_bytes = max_bytes;
        self
    }

    /// Sets how many rotated files (`app.log.1` …) are kept. Defaults to 5.
    ///
    /// With 0, no backup is kept: a full file is emptied and started again.
    pub(crate) fn max_files(mut self, max_files: usize) -> Self {
        self.max_files = max_files;
        self
    }

    /// Sets when lines reach the file. Defaults to [`FlushPolicy::EveryLine`].
    pub(crate) fn flush_policy(mut self, policy: FlushPolicy) -> Self {
        self.flush_policy = policy;
        self
    }

    /// Opens the file for appending, creating it and its directory if they are missing.
    ///
    /// An existing file is continued: its size counts toward `max_bytes`.
    ///
    /// # Errors
    ///
    /// Fails when `max_bytes` is 0, the path has no file name, or the directory or file cannot be created or opened.
    pub(crate) fn open(self) -> io::Result<RotatingFile> {
        if self.max_bytes == 0 {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "max_bytes must be at least 1",
            ));
        }
        let Some(file_name) = self.path.file_name().and_then(|n| n.to_str()) else {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "the log file path needs a UTF-8 file name",
            ));
        };
        let file_name = file_name.to_owned();
        if let Some(dir) = self.path.parent().filter(|d| !d.as_os_str().is_empty()) {
            fs::create_dir_all(dir)?;
        }
        let file = open_append(&self.path)?;
        let written = file.metadata()?.len();
        Ok(RotatingFile {
            dir: self
                .path
                .parent()
                .map_or_else(PathBuf::new, Path::to_path_buf),
            file_name,
            path: self.path,
            max_bytes: self.max_bytes,
            max_files: self.max_files,
            policy: self.flush_policy,
            state: Mutex::new(State {
                file,
                written,
                pending: Vec::new(),
                pending_lines: 0,
                oldest_pending: None,
            }),
            #[cfg(test)]
            clock: None,
        })
    }
}

/// A file that is rotated by size and written one whole line at a time.
///
/// Dropping it writes any lines still waiting under [`FlushPolicy::Batched`].
///
/// The rules (when it rotates, what it prunes, why it renames, how lines stay whole) are documented for users on
/// [`JsonLinesSink`](super::JsonLinesSink); the tests below check each of them.
pub(crate) struct RotatingFile {
    path: PathBuf,
    dir: PathBuf,
    file_name: String,
    max_bytes: u64,
    max_files: usize,
    policy: FlushPolicy,
    state: Mutex<State>,
    /// Replaces `Instant::now` in unit tests of the batching delay.
    #[cfg(test)]
    clock: Option<Box<dyn Fn() -> Instant + Send + Sync>>,
}

struct State {
    file: File,
    /// Bytes in the active file, as far as this process knows.
    written: u64,
    /// Complete lines waiting under [`FlushPolicy::Batched`]; they belong to the active file.
    pending: Vec<u8>,
    pending_lines: usize,
    oldest_pending: Option<Instant>,
}

impl std::fmt::Debug for RotatingFile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RotatingFile")
            .field("path", &self.path)
            .field("max_bytes", &self.max_bytes)
            .field("max_files", &self.max_files)
            .field("flush_policy", &self.policy)
            .finish_non_exhaustive()
    }
}

impl RotatingFile {
    /// Settings for a file at `path` (e.g. `/var/log/app/app.log`), with the defaults: 5 MiB per file, 5 backups,
    /// [`FlushPolicy::EveryLine`].
    pub(crate) fn builder(path: impl Into<PathBuf>) -> RotatingFileBuilder {
        RotatingFileBuilder {
            path: path.into(),
            max_bytes: 5 * 1024 * 1024,
            max_files: 5,
            flush_policy: FlushPolicy::EveryLine,
        }
    }

    /// The active file's path.
    pub(crate) fn path(&self) -> &Path {
        &self.path
    }

    /// The path of backup `index` (1 is the newest): `app.log.1`, `app.log.2`, …
    pub(crate) fn backup_path(&self, index: usize) -> PathBuf {
        self.dir.join(format!("{}.{index}", self.file_name))
    }

    /// Writes one line, rotating first if it would take the file past `max_bytes`.
    ///
    /// `line` must end with `\n` and contain no other newline, so a record is always exactly one line. With
    /// [`FlushPolicy::Batched`] the line may wait in memory; see there for when it is written.
    ///
    /// # Errors
    ///
    /// Fails with [`io::ErrorKind::InvalidInput`] when `line` is not a single `\n`-terminated line, and with the
    /// operating system's error when writing fails. After a failed write the file is cut back to its last complete
    /// line where possible, so a half-written line never sits in front of the next one. A failed rotation is not an
    /// error: the line goes to the current file, and the next write tries to rotate again.
    pub(crate) fn write_line(&self, line: &[u8]) -> io::Result<()> {
        match line.iter().position(|&b| b == b'\n') {
            Some(i) if i + 1 == line.len() => {}
            _ => {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidInput,
                    "a record must be one line ending in a newline",
                ));
            }
        }
        let len = line.len() as u64;
        let mut state = self.lock();
        let state = &mut *state;
        let size = state.written + state.pending.len() as u64;
        if size > 0 && size.saturating_add(len) > self.max_bytes {
            // The waiting lines belong to the file being rotated away.
            write_pending(state)?;
            // A failed rotation keeps the line in the current file, which is better than losing it.
            let _ = self.rotate(state);
        }
        match self.policy {
            FlushPolicy::EveryLine => write_at_end(state, line),
            FlushPolicy::Batched {
                max_lines,
                max_delay,
            } => {
                let now = self.now();
                state.pending.extend_from_slice(line);
                state.pending_lines += 1;
                let oldest = *state.oldest_pending.get_or_insert(now);
                if state.pending_lines >= max_lines.max(1)
                    || now.saturating_duration_since(oldest) >= max_delay
                    || state.pending.len() >= MAX_PENDING_BYTES
                {
                    write_pending(state)?;
                }
                Ok(())
            }
        }
    }

    /// Writes every waiting line to the file.
    ///
    /// # Errors
    ///
    /// Fails when the write fails; the waiting lines are then dropped (see [`RotatingFile::write_line`]).
    pub(crate) fn flush(&self) -> io::Result<()> {
        let mut state = self.lock();
        write_pending(&mut state)?;
        state.file.flush()
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // The lock is never held across user code, so a poisoned mutex only means a panic elsewhere (e.g. an
        // allocation failure); the state is still consistent line by line.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn now(&self) -> Instant {
        #[cfg(test)]
        if let Some(clock) = &self.clock {
            return clock();
        }
        Instant::now()
    }

    /// Shifts the backups up by one, moves the active file to `.1`, prunes stale backups and opens a new file.
    fn rotate(&self, state: &mut State) -> io::Result<()> {
        if self.max_files == 0 {
            state.file.set_len(0)?;
            state.written = 0;
            return Ok(());
        }
        for index in (1..self.max_files).rev() {
            let from = self.backup_path(index);
            if from.exists() {
                rename_over(&from, &self.backup_path(index + 1))?;
            }
        }
        rename_over(&self.path, &self.backup_path(1))?;
        // Once renamed, the old handle writes into `.1`; from here on the new file must be used.
        state.file = open_append(&self.path)?;
        state.written = state.file.metadata().map_or(0, |m| m.len());
        self.prune();
        Ok(())
    }

    /// Deletes backups numbered above `max_files`; nothing else in the directory.
    fn prune(&self) {
        let dir = if self.dir.as_os_str().is_empty() {
            Path::new(".")
        } else {
            &self.dir
        };
        let Ok(entries) = fs::read_dir(dir) else {
            return;
        };
        for entry in entries.flatten() {
            let name = entry.file_name();
            let Some(index) = name.to_str().and_then(|n| backup_index(&self.file_name, n)) else {
                continue;
            };
            if index > self.max_files && entry.file_type().is_ok_and(|t| t.is_file()) {
                let _ = fs::remove_file(entry.path());
            }
        }
    }
}

impl Drop for RotatingFile {
    fn drop(&mut self) {
        let _ = write_pending(&mut self.lock());
    }
}

/// The `N` of a backup name `{base}.N`, or `None` for any other name. `N` is decimal without a sign or leading
/// zeros, exactly as [`RotatingFile::backup_path`] writes it.
fn backup_index(base: &str, name: &str) -> Option<usize> {
    let digits = name.strip_prefix(base)?.strip_prefix('.')?;
    if digits.is_empty()
        || !digits.bytes().all(|b| b.is_ascii_digit())
        || (digits.len() > 1 && digits.starts_with('0'))
    {
        return None;
    }
    digits.parse().ok()
}

fn open_append(path: &Path) -> io::Result<File> {
    OpenOptions::new().create(true).append(true).open(path)
}

/// `rename` that replaces the target on every platform (Windows refuses to rename onto an existing file).
fn rename_over(from: &Path, to: &Path) -> io::Result<()> {
    if cfg!(windows) && to.exists() {
        fs::remove_file(to)?;
    }
    fs::rename(from, to)
}

fn write_pending(state: &mut State) -> io::Result<()> {
    if state.pending.is_empty() {
        return Ok(());
    }
    let pending = std::mem::take(&mut state.pending);
    state.pending_lines = 0;
    state.oldest_pending = None;
    let result = write_at_end(state, &pending);
    // Keep the allocation for the next batch.
    state.pending = pending;
    state.pending.clear();
    result
}

/// Appends whole lines; on failure, cuts the file back to what it held before so no partial line remains.
fn write_at_end(state: &mut State, bytes: &[u8]) -> io::Result<()> {
    match state.file.write_all(bytes) {
        Ok(()) => {
            state.written += bytes.len() as u64;
            Ok(())
        }
        Err(err) => {
            let _ = state.file.set_len(state.written);
            Err(err)
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;

    fn names(dir: &Path) -> Vec<String> {
        let mut names: Vec<String> = fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        names.sort();
        names
    }

    fn read(path: impl AsRef<Path>) -> String {
        fs::read_to_string(path).unwrap()
    }

    #[test]
    fn backup_names_are_recognised_exactly() {
        assert_eq!(backup_index("app.log", "app.log.1"), Some(1));
        assert_eq!(backup_index("app.log", "app.log.12"), Some(12));
        for other in [
            "app.log",
            "app.log.",
            "app.log.01",
            "app.log.1.gz",
            "app.log.gz",
            "app.log.-1",
            "app.log.+1",
            "app.logx.1",
            "xapp.log.1",
            "app.log..1",
        ] {
            assert_eq!(backup_index("app.log", other), None, "{other}");
        }
    }

    #[test]
    fn rotates_before_a_line_that_would_not_fit() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("app.log");
        let file = RotatingFile::builder(&path)
            .max_bytes(10)
            .max_files(2)
            .open()
            .unwrap();
        file.write_line(b"aaaa\n").unwrap();
        file.write_line(b"bbbb\n").unwrap(); // exactly 10 bytes: still fits
        assert_eq!(read(&path), "aaaa\nbbbb\n");
        file.write_line(b"c\n").unwrap();
        assert_eq!(read(&path), "c\n");
        assert_eq!(read(file.backup_path(1)), "aaaa\nbbbb\n");
        file.write_line(b"dddddddd\n").unwrap(); // 2 + 9 > 10
        file.write_line(b"eeeeeeeee\n").unwrap();
        assert_eq!(read(&path), "eeeeeeeee\n");
        assert_eq!(read(file.backup_path(1)), "dddddddd\n");
        assert_eq!(read(file.backup_path(2)), "c\n");
        assert_eq!(names(dir.path()), ["app.log", "app.log.1", "app.log.2"]);
    }

    #[test]
    fn a_line_longer_than_the_limit_gets_a_file_of_its_own() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("app.log");
        let file = RotatingFile::builder(&path)
            .max_bytes(4)
            .max_files(3)
            .open()
            .unwrap();
        file.write_line(b"0123456789\n").unwrap();
        assert_eq!(read(&path), "0123456789\n");
        file.write_line(b"x\n").unwrap();
        assert_eq!(read(&path), "x\n");
        assert_eq!(read(file.backup_path(1)), "0123456789\n");
    }

    #[test]
    fn zero_backups_empties_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("app.log");
        let file = RotatingFile::builder(&path)
            .max_bytes(6)
            .max_files(0)
            .open()
            .unwrap();
        file.write_line(b"one\n").unwrap();
        file.write_line(b"two\n").unwrap();
        assert_eq!(read(&path), "two\n");
        assert_eq!(names(dir.path()), ["app.log"]);
    }

    #[test]
    fn an_existing_file_is_continued_and_counts_toward_the_limit() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("app.log");
        fs::write(&path, "old line\n").unwrap();
        let file = RotatingFile::builder(&path).max_bytes(12).open().unwrap();
        file.write_line(b"new\n").unwrap();
        assert_eq!(read(file.backup_path(1)), "old line\n");
        assert_eq!(read(&path), "new\n");
    }

    #[test]
    fn creates_the_directory() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a/b/app.log");
        let file = RotatingFile::builder(&path).open().unwrap();
        file.write_line(b"x\n").unwrap();
        assert_eq!(read(&path), "x\n");
    }

    #[test]
    fn stale_backups_are_pruned_and_nothing_else() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("app.log");
        for name in ["app.log.7", "app.log.07", "app.log.1.gz", "other.log.9"] {
            fs::write(dir.path().join(name), "keep?\n").unwrap();
        }
        fs::create_dir(dir.path().join("app.log.8")).unwrap();
        let file = RotatingFile::builder(&path)
            .max_bytes(3)
            .max_files(2)
            .open()
            .unwrap();
        file.write_line(b"a\n").unwrap();
        file.write_line(b"b\n").unwrap();
        assert_eq!(
            names(dir.path()),
            [
                "app.log",
                "app.log.07",
                "app.log.1",
                "app.log.1.gz",
                "app.log.8",
                "other.log.9"
            ]
        );
    }

    #[test]
    fn rejects_anything_but_one_whole_line() {
        let dir = tempfile::tempdir().unwrap();
        let file = RotatingFile::builder(dir.path().join("app.log"))
            .open()
            .unwrap();
        for bad in [&b""[..], b"no newline", b"two\nlines\n", b"\n\n"] {
            let err = file.write_line(bad).unwrap_err();
            assert_eq!(err.kind(), io::ErrorKind::InvalidInput);
        }
        assert!(
            RotatingFile::builder(dir.path().join("x.log"))
                .max_bytes(0)
                .open()
                .is_err()
        );
    }

    #[test]
    fn batched_lines_wait_for_the_line_count() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("app.log");
        let file = RotatingFile::builder(&path)
            .flush_policy(FlushPolicy::Batched {
                max_lines: 3,
                max_delay: Duration::from_secs(3600),
            })
            .open()
            .unwrap();
        file.write_line(b"1\n").unwrap();
        file.write_line(b"2\n").unwrap();
        assert_eq!(read(&path), "");
        file.write_line(b"3\n").unwrap();
        assert_eq!(read(&path), "1\n2\n3\n");
        file.write_line(b"4\n").unwrap();
        file.flush().unwrap();
        assert_eq!(read(&path), "1\n2\n3\n4\n");
        file.write_line(b"5\n").unwrap();
        drop(file);
        assert_eq!(read(&path), "1\n2\n3\n4\n5\n");
    }

    #[test]
    fn batched_lines_wait_at_most_the_delay_when_writes_continue() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("app.log");
        let start = Instant::now();
        let now = Arc::new(Mutex::new(start));
        let mut file = RotatingFile::builder(&path)
            .flush_policy(FlushPolicy::Batched {
                max_lines: 1000,
                max_delay: Duration::from_secs(2),
            })
            .open()
            .unwrap();
        let clock = Arc::clone(&now);
        file.clock = Some(Box::new(move || *clock.lock().unwrap()));
        let advance = |secs: u64| *now.lock().unwrap() += Duration::from_secs(secs);

        file.write_line(b"a\n").unwrap();
        advance(1);
        file.write_line(b"b\n").unwrap();
        assert_eq!(read(&path), "", "the oldest line is 1 s old");
        advance(1);
        file.write_line(b"c\n").unwrap();
        assert_eq!(read(&path), "a\nb\nc\n", "the oldest line reached 2 s");
        advance(10);
        file.write_line(b"d\n").unwrap();
        assert_eq!(
            read(&path),
            "a\nb\nc\n",
            "the delay runs from the oldest waiting line"
        );
    }

    #[test]
    fn batched_lines_are_written_before_rotation() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("app.log");
        let file = RotatingFile::builder(&path)
            .max_bytes(4)
            .flush_policy(FlushPolicy::Batched {
                max_lines: 100,
                max_delay: Duration::from_secs(3600),
            })
            .open()
            .unwrap();
        file.write_line(b"1\n").unwrap();
        file.write_line(b"2\n").unwrap();
        file.write_line(b"3\n").unwrap();
        assert_eq!(read(file.backup_path(1)), "1\n2\n");
        file.flush().unwrap();
        assert_eq!(read(&path), "3\n");
    }
}

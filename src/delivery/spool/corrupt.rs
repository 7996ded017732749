//! Files that cannot be read or parsed: moved out of the queue into `corrupt/`, so one bad file never blocks the
//! ones behind it, and kept (the newest few) so someone can look at what went wrong.

use std::ffi::OsString;
use std::fs;
use std::path::Path;

use super::files::create_private_dir;
use super::names::CORRUPT_DIR;

/// How many files `corrupt/` keeps (the newest), so a bug that writes bad files cannot fill the disk.
pub(super) const MAX_CORRUPT_FILES: usize = 10;

/// Moves `claimed`, a file of spool directory `dir` that did not parse, into `corrupt/` under its waiting `name`,
/// keeping that directory within [`MAX_CORRUPT_FILES`]. Best effort: if it can be neither moved nor deleted it
/// stays claimed, so this process does not try it again, and a later open puts it back.
///
/// Returns whether the file left the spool, moved or deleted.
pub(super) fn move_aside(dir: &Path, claimed: &Path, name: &str) -> bool {
    let corrupt_dir = dir.join(CORRUPT_DIR);
    let moved =
        create_private_dir(&corrupt_dir).and_then(|()| fs::rename(claimed, corrupt_dir.join(name)));
    if moved.is_err() {
        return fs::remove_file(claimed).is_ok();
    }
    let Ok(listing) = fs::read_dir(&corrupt_dir) else {
        return true;
    };
    let mut names: Vec<OsString> = listing.filter_map(|e| Some(e.ok()?.file_name())).collect();
    // The names start with their time, so the smallest is the oldest. One over the limit is the usual case,
    // and a few minimum searches cost less code than another sort.
    while names.len() > MAX_CORRUPT_FILES {
        let Some((oldest, _)) = names.iter().enumerate().min_by(|a, b| a.1.cmp(b.1)) else {
            break;
        };
        let _ = fs::remove_file(corrupt_dir.join(names.swap_remove(oldest)));
    }
    true
}

//! The scan archive: a zip of the source tree.
//!
//! What goes in: every file under the folder, except `.git/` (always) and what `.gitignore`,
//! `.ignore` and `.git/info/exclude` exclude (unless `respect_ignore` is off). Hidden files are
//! kept (the platform scans `.env` files and CI configs), and so is `.cybedefend` at the root,
//! which the platform reads, even when an ignore rule names it. Symbolic links are never
//! followed out of the folder: a link to a file inside it is stored as that file, anything else
//! is skipped and reported.
//!
//! How: the file list is split into batches; every core takes the next batch as soon as it is
//! free and deflates it into a small partial archive, and the partial archives are appended in
//! order to the output with raw copies (no second compression). A file up to 16 MB is deflated
//! whole by libdeflate (a quarter to a half less CPU than zlib-rs at the same level for the same
//! size), and stored when deflate does not make it smaller; a larger one is streamed through
//! zlib-rs; formats that are compressed already are stored by their extension. With
//! `respect_ignore` off, the files the rules would have left out (build output, dependencies)
//! are deflated at level 1, the source at the level asked for. At most 16 MB of
//! input is in flight, the whole-file buffers of large files hold at most 24 MB at once, and
//! large partial archives are spilled to a temp file, so memory stays flat however large the
//! tree is.

mod plan;
mod write;

pub use plan::{
    IgnoredGroup, PLATFORM_IGNORE_FILE, Plan, PlannedFile, Skipped, ignored, literal_pattern,
    looks_like_secret, plan, plan_excluding,
};
pub use write::{Changed, Written, entry_names, write};

#[cfg(test)]
mod tests;

//! Archive tests: what is planned and what is written.
use super::write::LARGE_FILE;
use super::*;
use std::fs::{self, File};
use std::io::Read;
use std::sync::atomic::{AtomicBool, AtomicU64};
use zip::ZipArchive;

fn tree() -> tempfile::TempDir {
    let t = tempfile::tempdir().unwrap();
    let r = t.path();
    fs::create_dir_all(r.join(".git/objects")).unwrap();
    fs::write(r.join(".git/config"), "x").unwrap();
    fs::create_dir_all(r.join("src/gen")).unwrap();
    fs::create_dir_all(r.join("node_modules/pkg")).unwrap();
    fs::write(r.join("src/main.rs"), "fn main() {}\n".repeat(1000)).unwrap();
    fs::write(r.join("src/gen/out.js"), "x").unwrap();
    fs::write(r.join("node_modules/pkg/index.js"), "y".repeat(5000)).unwrap();
    fs::write(
        r.join(".gitignore"),
        "node_modules/\nsrc/gen/\n.cybedefend\n",
    )
    .unwrap();
    fs::write(r.join(".env"), "A=1").unwrap();
    fs::write(r.join(".cybedefend"), "tests/\n").unwrap();
    t
}

/// `sub/.gitignore` under `root` as a FIFO (a read of it would block).
#[cfg(unix)]
fn fifo_ignore_file(root: &std::path::Path) {
    fs::create_dir_all(root.join("sub")).unwrap();
    rustix::fs::mkfifoat(
        rustix::fs::CWD,
        root.join("sub/.gitignore"),
        rustix::fs::Mode::from_raw_mode(0o644),
    )
    .unwrap();
}

fn names(p: &Plan) -> Vec<&str> {
    let mut v: Vec<&str> = p.files.iter().map(|f| f.name.as_str()).collect();
    v.sort();
    v
}

#[test]
fn plan_skips_git_respects_ignores_keeps_dotfiles_and_marker() {
    let t = tree();
    let p = plan(t.path(), true).unwrap();
    assert_eq!(
        names(&p),
        vec![".cybedefend", ".env", ".gitignore", "src/main.rs"]
    );
    let ig = ignored(&p).unwrap();
    let paths: Vec<&str> = ig.iter().map(|g| g.path.as_str()).collect();
    assert_eq!(paths, vec!["node_modules/", "src/gen/"]);
    let all = plan(t.path(), false).unwrap();
    assert!(names(&all).contains(&"node_modules/pkg/index.js"));
    assert!(!names(&all).iter().any(|n| n.starts_with(".git/")));
}

#[cfg(unix)]
#[test]
fn symlinks_are_not_followed_out_of_the_tree() {
    let t = tree();
    let outside = tempfile::tempdir().unwrap();
    fs::write(outside.path().join("secret.txt"), "s").unwrap();
    std::os::unix::fs::symlink(outside.path().join("secret.txt"), t.path().join("leak.txt"))
        .unwrap();
    std::os::unix::fs::symlink(outside.path(), t.path().join("leakdir")).unwrap();
    std::os::unix::fs::symlink(t.path().join("src/main.rs"), t.path().join("alias.rs")).unwrap();
    let p = plan(t.path(), true).unwrap();
    assert!(names(&p).contains(&"alias.rs"));
    assert!(!names(&p).contains(&"leak.txt"));
    let skipped: Vec<&str> = p.skipped.iter().map(|s| s.name.as_str()).collect();
    assert!(
        skipped.contains(&"leak.txt") && skipped.contains(&"leakdir"),
        "{skipped:?}"
    );
}

#[test]
fn written_archive_round_trips() {
    let t = tree();
    fs::write(
        t.path().join("big.bin"),
        vec![7u8; (LARGE_FILE + 10) as usize],
    )
    .unwrap();
    let p = plan(t.path(), true).unwrap();
    let out = tempfile::tempdir().unwrap();
    let path = out.path().join("a.zip");
    let progress = AtomicU64::new(0);
    let w = write(&p, &path, 6, 2, &progress, &AtomicBool::new(false)).unwrap();
    assert_eq!(w.files, 5);
    assert_eq!(w.bytes_in, p.total_bytes);
    let mut z = ZipArchive::new(File::open(&path).unwrap()).unwrap();
    let mut s = String::new();
    z.by_name("src/main.rs")
        .unwrap()
        .read_to_string(&mut s)
        .unwrap();
    assert_eq!(s, "fn main() {}\n".repeat(1000));
    assert_eq!(z.by_name("big.bin").unwrap().size(), LARGE_FILE + 10);
    // only the output remains in the folder: spilled partials are gone
    assert_eq!(fs::read_dir(out.path()).unwrap().count(), 1);
}

#[test]
fn empty_folder_is_an_error_naming_it() {
    let t = tempfile::tempdir().unwrap();
    let p = plan(t.path(), true).unwrap();
    let out = t.path().join("x.zip");
    let err = write(&p, &out, 6, 2, &AtomicU64::new(0), &AtomicBool::new(false)).unwrap_err();
    assert!(err.message().contains("nothing to upload"), "{err}");
}

#[cfg(unix)]
#[test]
fn a_fifo_as_ignore_file_is_an_error_not_a_hang() {
    let t = tree();
    fifo_ignore_file(t.path());
    let err = plan(t.path(), true).unwrap_err();
    assert!(err.is_usage(), "{err}");
    assert!(
        err.message()
            .contains("sub/.gitignore is not a regular file"),
        "{err}"
    );
    // without ignore rules nothing reads it, and the FIFO itself is skipped, not archived
    let p = plan(t.path(), false).unwrap();
    assert!(p.skipped.iter().any(|s| s.name == "sub/.gitignore"));
}

#[test]
fn secret_looking_names_are_recognised() {
    for name in [
        ".env",
        "app/.env.production",
        "certs/server.pem",
        "id_rsa",
        "keys/client.p12",
        "credentials.json",
        ".npmrc",
    ] {
        assert!(looks_like_secret(name).is_some(), "{name}");
    }
    for name in [
        ".env.example",
        "src/main.rs",
        "README.md",
        "environment.ts",
        "keyboard.js",
    ] {
        assert!(looks_like_secret(name).is_none(), "{name}");
    }
}

#[test]
fn compressed_formats_are_stored_and_everything_comes_back_byte_for_byte() {
    let t = tempfile::tempdir().unwrap();
    let r = t.path();
    let noise: Vec<u8> = (0..200_000u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    fs::write(r.join("logo.PNG"), &noise).unwrap();
    fs::write(r.join("font.woff2"), &noise).unwrap();
    fs::write(r.join("app.js"), "let x = 1;\n".repeat(5000)).unwrap();
    fs::write(r.join("empty.txt"), "").unwrap();
    let p = plan(r, true).unwrap();
    let out = r.join("../stored-test.zip");
    let (progress, cancel) = (AtomicU64::new(0), AtomicBool::new(false));
    write(&p, &out, 5, 2, &progress, &cancel).unwrap();
    let mut z = ZipArchive::new(File::open(&out).unwrap()).unwrap();
    for (name, method) in [
        ("logo.PNG", zip::CompressionMethod::Stored),
        ("font.woff2", zip::CompressionMethod::Stored),
        ("app.js", zip::CompressionMethod::Deflated),
    ] {
        let mut f = z.by_name(name).unwrap();
        assert_eq!(f.compression(), method, "{name}");
        let mut back = Vec::new();
        f.read_to_end(&mut back).unwrap();
        assert_eq!(back, fs::read(r.join(name)).unwrap(), "{name}");
    }
    assert_eq!(z.by_name("empty.txt").unwrap().size(), 0);
    fs::remove_file(out).unwrap();
}

#[test]
fn many_files_keep_their_order_and_both_workers_finish() {
    let t = tempfile::tempdir().unwrap();
    let r = t.path();
    for i in 0..3000 {
        let d = r.join(format!("d{}", i % 17));
        fs::create_dir_all(&d).unwrap();
        fs::write(
            d.join(format!("f{i}.txt")),
            format!("file {i}\n").repeat(i % 50 + 1),
        )
        .unwrap();
    }
    let p = plan(r, true).unwrap();
    let out = r.join("../order-test.zip");
    let (progress, cancel) = (AtomicU64::new(0), AtomicBool::new(false));
    let w = write(&p, &out, 5, 2, &progress, &cancel).unwrap();
    assert_eq!(w.files, 3000);
    let mut z = ZipArchive::new(File::open(&out).unwrap()).unwrap();
    let names: Vec<String> = (0..z.len())
        .map(|i| z.by_index_raw(i).unwrap().name().unwrap().into_owned())
        .collect();
    let planned: Vec<String> = p.files.iter().map(|f| f.name.clone()).collect();
    assert_eq!(names, planned, "the archive keeps the plan's order");
    fs::remove_file(out).unwrap();
}

#[test]
fn a_literal_pattern_matches_its_file_alone() {
    assert_eq!(crate::literal_pattern(".env"), "/.env");
    assert_eq!(crate::literal_pattern("a/*[1]?.pem"), "/a/\\*\\[1]\\?.pem");
    assert_eq!(crate::literal_pattern("#x!"), "/\\#x\\!");
    assert_eq!(crate::literal_pattern("trail "), "/trail\\ ");
    let dir = tempfile::tempdir().unwrap();
    for name in ["a*.pem", "ab.pem", "x [1].txt", "x 1.txt"] {
        std::fs::write(dir.path().join(name), "x").unwrap();
    }
    for (name, other) in [("a*.pem", "ab.pem"), ("x [1].txt", "x 1.txt")] {
        let plan =
            crate::plan_excluding(dir.path(), false, &[crate::literal_pattern(name)]).unwrap();
        assert_eq!(plan.excluded, vec![name.to_owned()], "{name}");
        assert!(plan.files.iter().any(|f| f.name == other), "{name}");
    }
}

/// Every way a file goes in comes back byte for byte, with its permissions and time: a small
/// file and a large one deflated whole, one larger than that streamed, one that does not
/// compress (stored, whatever its name), and an empty one (reading each back checks its CRC).
#[test]
fn whole_streamed_and_incompressible_files_come_back_with_their_modes() {
    use std::os::unix::fs::PermissionsExt;
    let t = tempfile::tempdir().unwrap();
    let r = t.path();
    let text = |n: usize| {
        (0..n)
            .map(|i| format!("line {i} of a generated file\n"))
            .collect::<String>()
            .into_bytes()
    };
    // xorshift: bytes deflate cannot shorten
    let mut x = 0x9E37_79B9_7F4A_7C15u64;
    let noise: Vec<u8> = (0..300_000)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 24) as u8
        })
        .collect();
    let big = text(160_000); // about 5 MB: a large file deflated whole
    let huge = text(620_000); // about 19 MB: streamed
    assert!(big.len() as u64 > 1 << 20 && (big.len() as u64) < super::write::WHOLE_FILE);
    assert!(huge.len() as u64 > super::write::WHOLE_FILE);
    fs::write(r.join("small.rs"), text(50)).unwrap();
    fs::write(r.join("big.js"), &big).unwrap();
    fs::write(r.join("huge.sql"), &huge).unwrap();
    fs::write(r.join("noise.bin"), &noise).unwrap();
    fs::write(r.join("empty"), "").unwrap();
    fs::write(r.join("run.sh"), "#!/bin/sh\necho hi\n".repeat(40)).unwrap();
    fs::set_permissions(r.join("run.sh"), fs::Permissions::from_mode(0o750)).unwrap();
    let p = plan(r, true).unwrap();
    let out = r.join("../ways-test.zip");
    let (progress, cancel) = (AtomicU64::new(0), AtomicBool::new(false));
    write(&p, &out, 5, 2, &progress, &cancel).unwrap();
    let mut z = ZipArchive::new(File::open(&out).unwrap()).unwrap();
    for (name, method) in [
        ("small.rs", zip::CompressionMethod::Deflated),
        ("big.js", zip::CompressionMethod::Deflated),
        ("huge.sql", zip::CompressionMethod::Deflated),
        ("noise.bin", zip::CompressionMethod::Stored),
        ("empty", zip::CompressionMethod::Stored),
        ("run.sh", zip::CompressionMethod::Deflated),
    ] {
        let mut f = z.by_name(name).unwrap();
        assert_eq!(f.compression(), method, "{name}");
        let mode = fs::metadata(r.join(name)).unwrap().permissions().mode();
        assert_eq!(
            f.unix_mode().map(|m| m & 0o7777),
            Some(mode & 0o7777),
            "{name}"
        );
        assert!(f.is_file(), "{name}");
        let planned = p.files.iter().find(|pf| pf.name == name).unwrap();
        assert_eq!(
            f.last_modified(),
            Some(super::write::zip_time(planned.modified)),
            "{name}"
        );
        let mut back = Vec::new();
        f.read_to_end(&mut back).unwrap();
        assert_eq!(back, fs::read(r.join(name)).unwrap(), "{name}");
    }
    fs::remove_file(out).unwrap();
}

/// Text that level 1 packs visibly worse than level 5: lines that repeat pieces of each other.
fn generated_text(lines: usize) -> Vec<u8> {
    let mut x = 0x2545_F491_4F6C_DD1Du64;
    (0..lines)
        .map(|i| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            format!(
                "export const item{} = compute({}, \"{}\");\n",
                i % 97,
                x % 1000,
                x % 13
            )
        })
        .collect::<String>()
        .into_bytes()
}

#[test]
fn with_no_ignore_what_the_rules_name_is_packed_faster_and_comes_back_the_same() {
    let t = tempfile::tempdir().unwrap();
    let r = t.path();
    fs::create_dir_all(r.join("src")).unwrap();
    fs::create_dir_all(r.join("build")).unwrap();
    fs::write(r.join(".gitignore"), "build/\n").unwrap();
    let text = generated_text(8000);
    fs::write(r.join("src/app.js"), &text).unwrap();
    fs::write(r.join("build/app.js"), &text).unwrap();
    let p = plan(r, false).unwrap();
    let marked = |name: &str| p.files.iter().find(|f| f.name == name).unwrap().ignored;
    assert!(marked("build/app.js"));
    assert!(!marked("src/app.js") && !marked(".gitignore"));
    // with the rules on, nothing is marked
    assert!(plan(r, true).unwrap().files.iter().all(|f| !f.ignored));
    let out = r.join("../fast-level.zip");
    let (progress, cancel) = (AtomicU64::new(0), AtomicBool::new(false));
    write(&p, &out, 5, 2, &progress, &cancel).unwrap();
    let mut z = ZipArchive::new(File::open(&out).unwrap()).unwrap();
    let mut packed = |name: &str| {
        let mut f = z.by_name(name).unwrap();
        let mut back = Vec::new();
        f.read_to_end(&mut back).unwrap();
        assert_eq!(back, text, "{name}");
        f.compressed_size()
    };
    let (source, ignored) = (packed("src/app.js"), packed("build/app.js"));
    fs::remove_file(out).unwrap();
    assert!(
        ignored > source + source / 50,
        "build output at the fast level: {ignored} bytes against {source}"
    );
}

#[cfg(unix)]
#[test]
fn with_no_ignore_an_unreadable_rule_marks_nothing_and_does_not_hang() {
    let t = tree();
    fifo_ignore_file(t.path());
    let p = plan(t.path(), false).unwrap();
    assert!(names(&p).contains(&"node_modules/pkg/index.js"));
    assert!(p.files.iter().all(|f| !f.ignored));
}

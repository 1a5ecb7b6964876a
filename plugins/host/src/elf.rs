//! What an ELF file asks the system's loader to open: its program interpreter (`PT_INTERP`,
//! the dynamic loader an executable names), the libraries it needs (`DT_NEEDED`), its own name
//! (`DT_SONAME`) and the folders searched for them (`DT_RPATH`, `DT_RUNPATH`). Read from the
//! checked descriptor, the way the loader reads it: program headers, not sections. Everything
//! in the file is hostile: counts and sizes are capped, and an unreadable file is an error.

use std::fs::File;
use std::os::fd::AsFd;

use object::elf;
use object::read::elf::{Dyn, FileHeader, ProgramHeader};
use object::{Endianness, FileKind, ReadCache, ReadRef};

/// Most entries of a dynamic section read (real files have a few dozen).
const MAX_DYNAMIC: usize = 4096;
/// Largest string table read.
const MAX_STRTAB: u64 = 8 << 20;
/// Longest name or search list kept.
const MAX_STRING: usize = 4096;

/// What the loader will look for on behalf of an ELF file.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Needs {
    /// `PT_INTERP`: the program that loads an executable.
    pub interpreter: Option<String>,
    /// `DT_NEEDED`: libraries, by name.
    pub needed: Vec<String>,
    /// `DT_SONAME`: the library's own name.
    pub soname: Option<String>,
    /// `DT_RPATH` entries (colon-separated in the file).
    pub rpath: Vec<String>,
    /// `DT_RUNPATH` entries.
    pub runpath: Vec<String>,
    /// Libraries the loader opens besides the needed ones: audit (`DT_AUDIT`, `DT_DEPAUDIT`)
    /// and filter (`DT_AUXILIARY`, `DT_FILTER`) libraries.
    pub extra: Vec<String>,
}

/// Whether the first bytes of a file are an ELF header.
pub fn is_elf(head: &[u8]) -> bool {
    head.starts_with(b"\x7fELF")
}

/// Reads the loader's needs from `fd` (an ELF file).
pub fn needs(fd: impl AsFd) -> Result<Needs, String> {
    let file = File::from(
        fd.as_fd()
            .try_clone_to_owned()
            .map_err(|e| format!("it cannot be read: {e}"))?,
    );
    let cache = ReadCache::new(file);
    needs_of(&cache)
}

/// [`needs`] of bytes in memory (the fuzz target reads files this way).
pub fn needs_in(data: &[u8]) -> Result<Needs, String> {
    needs_of(data)
}

fn needs_of<'data, R: ReadRef<'data>>(data: R) -> Result<Needs, String> {
    let kind = FileKind::parse(data).map_err(|_| "it is not an ELF file".to_owned())?;
    let r = match kind {
        FileKind::Elf32 => parse::<elf::FileHeader32<Endianness>, _>(data),
        FileKind::Elf64 => parse::<elf::FileHeader64<Endianness>, _>(data),
        _ => return Err("it is not an ELF file".to_owned()),
    };
    r.map_err(|e| format!("its ELF headers cannot be read ({e})"))
}

fn text(bytes: &[u8]) -> Result<String, String> {
    if bytes.len() > MAX_STRING {
        return Err(format!(
            "it names a library or folder longer than {MAX_STRING} bytes"
        ));
    }
    std::str::from_utf8(bytes)
        .map(str::to_owned)
        .map_err(|_| "it names a library or folder that is not UTF-8".to_owned())
}

fn parse<'data, H, R>(data: R) -> Result<Needs, String>
where
    H: FileHeader<Endian = Endianness>,
    R: ReadRef<'data>,
{
    let header = H::parse(data).map_err(|e| e.to_string())?;
    let endian = header.endian().map_err(|e| e.to_string())?;
    let headers = header
        .program_headers(endian, data)
        .map_err(|e| e.to_string())?;
    let mut needs = Needs::default();
    let mut dynamic: Option<&[H::Dyn]> = None;
    for ph in headers {
        // The kernel takes the first loader header, the loader another dynamic section than
        // a checker might: two of either are refused, not guessed at.
        if let Some(interp) = ph.interpreter(endian, data).map_err(|e| e.to_string())? {
            if needs.interpreter.is_some() {
                return Err("it names two program loaders (PT_INTERP)".to_owned());
            }
            needs.interpreter = Some(text(interp)?);
        }
        if let Some(d) = ph.dynamic(endian, data).map_err(|e| e.to_string())? {
            if dynamic.is_some() {
                return Err("it has two dynamic sections (PT_DYNAMIC)".to_owned());
            }
            dynamic = Some(d);
        }
    }
    let Some(dynamic) = dynamic else {
        return Ok(needs);
    };
    if dynamic.len() > MAX_DYNAMIC {
        return Err(format!(
            "its dynamic section has more than {MAX_DYNAMIC} entries"
        ));
    }
    let mut strtab = None;
    let mut strsz = None;
    for d in dynamic {
        let tag = d.tag(endian);
        if tag == elf::DT_NULL {
            break;
        }
        if tag == elf::DT_STRTAB {
            strtab = Some(d.val(endian));
        } else if tag == elf::DT_STRSZ {
            strsz = Some(d.val(endian));
        }
    }
    let (Some(addr), Some(size)) = (strtab, strsz) else {
        return Ok(needs);
    };
    if size > MAX_STRTAB {
        return Err("its string table is larger than 8 MiB".to_owned());
    }
    // The string table is found by address, in the segment the loader maps it from.
    let mut table = None;
    for ph in headers {
        if ph.p_type(endian) == elf::PT_LOAD
            && let Some(t) = ph
                .data_range(endian, data, addr, size)
                .map_err(|_| "its string table is outside the file".to_owned())?
        {
            table = Some(t);
            break;
        }
    }
    let Some(table) = table else {
        return Err("its string table is not in any loaded segment".to_owned());
    };
    let string = |offset: u64| -> Result<String, String> {
        let start = usize::try_from(offset)
            .ok()
            .filter(|s| *s < table.len())
            .ok_or("a name points outside its string table")?;
        let rest = &table[start..];
        let end = rest
            .iter()
            .position(|b| *b == 0)
            .ok_or("a name in its string table does not end")?;
        text(&rest[..end])
    };
    for d in dynamic {
        let tag = d.tag(endian);
        if tag == elf::DT_NULL {
            break;
        }
        let value = d.val(endian);
        if tag == elf::DT_NEEDED {
            needs.needed.push(string(value)?);
        } else if tag == elf::DT_SONAME {
            needs.soname = Some(string(value)?);
        } else if tag == elf::DT_RPATH {
            needs
                .rpath
                .extend(string(value)?.split(':').map(str::to_owned));
        } else if tag == elf::DT_RUNPATH {
            needs
                .runpath
                .extend(string(value)?.split(':').map(str::to_owned));
        } else if [
            elf::DT_AUDIT,
            elf::DT_DEPAUDIT,
            elf::DT_AUXILIARY,
            elf::DT_FILTER,
        ]
        .contains(&tag)
        {
            needs.extra.push(string(value)?);
        }
    }
    Ok(needs)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_test_binary_names_its_loader_and_libraries() {
        let f = File::open("/proc/self/exe").expect("exe");
        let n = needs(&f).expect("needs");
        assert!(
            n.interpreter.as_deref().is_some_and(|i| i.contains("ld")),
            "{n:?}"
        );
        assert!(n.needed.iter().any(|l| l.starts_with("libc.so")), "{n:?}");
    }

    #[test]
    fn two_loader_headers_are_refused_not_guessed_at() {
        // the test binary, with its PT_PHDR header turned into a second PT_INTERP (the kernel
        // would take the first one, a checker reading the last would check another file)
        let mut bytes = std::fs::read("/proc/self/exe").expect("exe");
        assert!(needs_in(&bytes).is_ok());
        let u16_at = |b: &[u8], o: usize| u16::from_le_bytes([b[o], b[o + 1]]) as usize;
        let phoff = u64::from_le_bytes(bytes[0x20..0x28].try_into().expect("8 bytes")) as usize;
        let (size, count) = (u16_at(&bytes, 0x36), u16_at(&bytes, 0x38));
        let phdr = (0..count)
            .map(|i| phoff + i * size)
            .find(|&o| u32::from_le_bytes(bytes[o..o + 4].try_into().expect("4 bytes")) == 6)
            .expect("a PT_PHDR header");
        bytes[phdr..phdr + 4].copy_from_slice(&3u32.to_le_bytes());
        let e = needs_in(&bytes).expect_err("two loaders");
        assert!(e.contains("two program loaders"), "{e}");
    }

    #[test]
    fn garbage_is_an_error_not_a_panic() {
        let t = tempfile::tempdir().expect("tempdir");
        for (i, bytes) in [
            &b"\x7fELF"[..],
            &b"\x7fELF\x02\x01\x01\0\0\0\0\0\0\0\0\0\x03\0\x3e\0\x01\0\0\0"[..],
            &b"#!/bin/sh\n"[..],
            &[0u8; 100][..],
        ]
        .iter()
        .enumerate()
        {
            let p = t.path().join(format!("f{i}"));
            std::fs::write(&p, bytes).expect("write");
            assert!(needs(File::open(&p).expect("open")).is_err());
        }
    }
}

//! Fuzz target: the ELF headers of a plugin file (its loader, libraries and library folders)
//! are read without panicking or reading out of bounds, whatever the file holds.
fn main() {
    afl::fuzz!(|data: &[u8]| {
        let _ = cybedefend_plugin_host::elf::needs_in(data);
    });
}

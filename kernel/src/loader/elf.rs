//! Validating an application's ELF image before loading it.
//!
//! Mirrors the checks of Linux's `load_elf_binary()` and `load_elf_phdrs()`
//! (fs/binfmt_elf.c) for a static aarch64 executable: the image must be a
//! little-endian ELF64 for `EM_AARCH64` without `PT_INTERP`, either
//! `ET_EXEC` (loaded at its link addresses) or `ET_DYN` (a static PIE, gcc's
//! `-static-pie`: loaded at a base the kernel chooses, which moves every
//! address by the same page-aligned bias; nothing is relocated, since such a
//! program relocates itself before `main`). Every `PT_LOAD` segment must be
//! mappable as Linux would `mmap` it (file range in the file, page-congruent
//! address and offset, inside the user address range, after the bias). On
//! top of Linux we insist on W^X and on segments that do not share a page,
//! because we map each segment with one set of permissions and no page can
//! have two.
//!
//! Everything is read with `from_le_bytes` from bounds-checked slices: a
//! malformed image yields an [`ElfError`], never a panic or an out-of-bounds
//! access. Pure logic, unit-tested on the host with images built in the
//! tests.

use core::fmt;
use core::ops::Range;

/// `e_machine` of aarch64 (`EM_AARCH64`).
const EM_AARCH64: u16 = 183;
/// `e_type` of a fixed-address executable (`ET_EXEC`).
const ET_EXEC: u16 = 2;
/// `e_type` of a shared object or PIE (`ET_DYN`).
const ET_DYN: u16 = 3;
/// `p_type` of a loadable segment.
const PT_LOAD: u32 = 1;
/// `p_type` naming a program interpreter (dynamic linker).
const PT_INTERP: u32 = 3;
/// Segment permission bits of `p_flags`.
const PF_X: u32 = 1;
/// Writable.
const PF_W: u32 = 2;
/// Readable.
const PF_R: u32 = 4;

/// Size of the ELF64 file header (`sizeof(Elf64_Ehdr)`).
const EHDR_SIZE: usize = 64;
/// Size of one ELF64 program header (`sizeof(Elf64_Phdr)`), also the value of
/// `AT_PHENT`.
pub const PHDR_SIZE: u64 = 56;
/// Linux refuses program header tables larger than this
/// (`load_elf_phdrs()`); it also rules out `PN_XNUM` extended numbering.
const MAX_PHDRS_SIZE: u64 = 65536;
/// The page size segments are mapped with.
const PAGE_SIZE: u64 = 4096;

/// Why an image cannot be loaded.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ElfError {
    /// Shorter than an ELF header.
    TooShort {
        /// The file's length.
        len: usize,
    },
    /// Does not start with `\x7fELF`.
    BadMagic,
    /// `EI_CLASS` is not `ELFCLASS64`.
    NotElf64,
    /// `EI_DATA` is not `ELFDATA2LSB`.
    NotLittleEndian,
    /// `e_machine` is not `EM_AARCH64`.
    WrongMachine {
        /// The image's `e_machine`.
        machine: u16,
    },
    /// `e_type` is neither `ET_EXEC` nor `ET_DYN`.
    NotExecutable {
        /// The image's `e_type`.
        e_type: u16,
    },
    /// `e_phentsize` is not 56.
    BadPhentsize {
        /// The image's `e_phentsize`.
        size: u16,
    },
    /// `e_phnum` is 0 or the table is larger than Linux allows.
    BadPhnum {
        /// The image's `e_phnum`.
        phnum: u16,
    },
    /// The program header table does not lie inside the file.
    PhdrsOutOfFile,
    /// A `PT_INTERP` header: the image wants a dynamic linker.
    Interpreter,
    /// A segment's file range `[p_offset, p_offset + p_filesz)` is not
    /// inside the file.
    SegmentOutOfFile {
        /// Index of the program header.
        index: usize,
    },
    /// `p_filesz > p_memsz`.
    FileszExceedsMemsz {
        /// Index of the program header.
        index: usize,
    },
    /// A segment's memory range is not inside the user address range (or
    /// `p_vaddr + p_memsz` overflows).
    SegmentOutsideUser {
        /// Index of the program header.
        index: usize,
        /// `p_vaddr`.
        vaddr: u64,
        /// `p_memsz`.
        memsz: u64,
    },
    /// `p_vaddr` and `p_offset` differ modulo the page size, so the file
    /// cannot be mapped at that address.
    NotPageCongruent {
        /// Index of the program header.
        index: usize,
    },
    /// A segment is both writable and executable.
    WriteAndExecute {
        /// Index of the program header.
        index: usize,
    },
    /// Two segments touch the same page.
    Overlap {
        /// Index of the earlier program header.
        first: usize,
        /// Index of the later program header.
        second: usize,
    },
    /// No `PT_LOAD` segment.
    NoLoadSegments,
    /// `e_entry` is not inside an executable segment.
    EntryNotExecutable {
        /// The image's `e_entry`.
        entry: u64,
    },
}

impl fmt::Display for ElfError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Self::TooShort { len } => {
                write!(f, "file too short for an ELF header ({len} bytes)")
            }
            Self::BadMagic => f.write_str("not an ELF file (bad magic)"),
            Self::NotElf64 => f.write_str("not a 64-bit ELF file"),
            Self::NotLittleEndian => f.write_str("not a little-endian ELF file"),
            Self::WrongMachine { machine } => {
                write!(f, "not an aarch64 executable (e_machine {machine})")
            }
            Self::NotExecutable { e_type } => {
                write!(f, "not an executable (e_type {e_type})")
            }
            Self::BadPhentsize { size } => {
                write!(f, "program header size {size}, expected {PHDR_SIZE}")
            }
            Self::BadPhnum { phnum } => write!(f, "bad program header count {phnum}"),
            Self::PhdrsOutOfFile => f.write_str("program headers extend past the end of the file"),
            Self::Interpreter => {
                f.write_str("dynamically linked (PT_INTERP); only static executables are supported")
            }
            Self::SegmentOutOfFile { index } => {
                write!(
                    f,
                    "segment {index}: file contents extend past the end of the file"
                )
            }
            Self::FileszExceedsMemsz { index } => {
                write!(f, "segment {index}: file size larger than memory size")
            }
            Self::SegmentOutsideUser {
                index,
                vaddr,
                memsz,
            } => write!(
                f,
                "segment {index}: {vaddr:#x} + {memsz:#x} is outside the user address range"
            ),
            Self::NotPageCongruent { index } => write!(
                f,
                "segment {index}: virtual address and file offset differ modulo the page size"
            ),
            Self::WriteAndExecute { index } => {
                write!(f, "segment {index}: writable and executable (W^X)")
            }
            Self::Overlap { first, second } => {
                write!(f, "segments {first} and {second} share a page")
            }
            Self::NoLoadSegments => f.write_str("no loadable segment"),
            Self::EntryNotExecutable { entry } => {
                write!(f, "entry point {entry:#x} is not in an executable segment")
            }
        }
    }
}

/// Access permissions of a segment (`p_flags`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Perm {
    /// `PF_R`.
    pub read: bool,
    /// `PF_W`.
    pub write: bool,
    /// `PF_X`.
    pub exec: bool,
}

/// A validated `PT_LOAD` segment: map `[vaddr, vaddr + memsz)` with `perm`,
/// fill the first `filesz` bytes from the file at `offset`, zero the rest
/// (`.bss`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Segment {
    /// `p_vaddr`: where the segment starts in user memory (not necessarily
    /// page-aligned; its page offset equals `offset`'s).
    pub vaddr: u64,
    /// `p_memsz`: bytes of memory.
    pub memsz: u64,
    /// `p_filesz`: bytes coming from the file, `<= memsz`.
    pub filesz: u64,
    /// `p_offset`: where those bytes start in the file.
    pub offset: u64,
    /// Access permissions.
    pub perm: Perm,
}

impl Segment {
    /// The page-aligned user address range the segment occupies (empty for
    /// an empty, page-aligned segment). The end saturates at `u64::MAX` for
    /// a segment on the very last page of the address space, which no user
    /// range reaches.
    pub fn page_range(&self) -> Range<u64> {
        // No overflow: `parse` checked vaddr + memsz <= user.end.
        let end = self.vaddr + self.memsz;
        align_down(self.vaddr)..align_up(end).unwrap_or(u64::MAX)
    }

    /// First and last page number touched, `None` for an empty segment.
    fn pages(&self) -> Option<(u64, u64)> {
        let last_byte = (self.vaddr + self.memsz).checked_sub(1)?;
        (self.memsz != 0).then_some((self.vaddr / PAGE_SIZE, last_byte / PAGE_SIZE))
    }
}

/// A validated executable image, borrowing the file's bytes.
#[derive(Clone, Copy, Debug)]
pub struct Elf<'a> {
    data: &'a [u8],
    /// `e_entry` after the bias.
    entry: u64,
    phoff: usize,
    phnum: u16,
    /// How link addresses become load addresses: `vaddr - from + to`, with
    /// `from` the page of the lowest `PT_LOAD` and `to` the chosen base for
    /// `ET_DYN`; both 0 for `ET_EXEC`.
    from: u64,
    to: u64,
    dynamic: bool,
}

/// One raw program header.
#[derive(Clone, Copy)]
struct Phdr {
    p_type: u32,
    p_flags: u32,
    p_offset: u64,
    /// The load address: `p_vaddr` after the bias; `None` when that is
    /// below the lowest segment's page or overflows.
    p_vaddr: Option<u64>,
    /// `p_vaddr` as written.
    link_vaddr: u64,
    p_filesz: u64,
    p_memsz: u64,
}

impl Phdr {
    fn segment(&self) -> Segment {
        Segment {
            // Only called on validated `PT_LOAD`s, whose address is known.
            vaddr: self.p_vaddr.unwrap_or(0),
            memsz: self.p_memsz,
            filesz: self.p_filesz,
            offset: self.p_offset,
            perm: Perm {
                read: self.p_flags & PF_R != 0,
                write: self.p_flags & PF_W != 0,
                exec: self.p_flags & PF_X != 0,
            },
        }
    }
}

fn u16_at(d: &[u8], at: usize) -> u16 {
    u16::from_le_bytes([d[at], d[at + 1]])
}

fn u32_at(d: &[u8], at: usize) -> u32 {
    let mut b = [0; 4];
    b.copy_from_slice(&d[at..at + 4]);
    u32::from_le_bytes(b)
}

fn u64_at(d: &[u8], at: usize) -> u64 {
    let mut b = [0; 8];
    b.copy_from_slice(&d[at..at + 8]);
    u64::from_le_bytes(b)
}

const fn align_down(x: u64) -> u64 {
    x & !(PAGE_SIZE - 1)
}

const fn align_up(x: u64) -> Option<u64> {
    match x.checked_add(PAGE_SIZE - 1) {
        Some(y) => Some(align_down(y)),
        None => None,
    }
}

/// Parses and validates an image for loading into the user address range
/// `user` (end exclusive). An `ET_DYN` image is placed with its lowest
/// `PT_LOAD` page at `dyn_base` (page-aligned); an `ET_EXEC` one at its link
/// addresses (`dyn_base` unused).
///
/// # Errors
///
/// The first violated rule, see [`ElfError`]: header identity (magic,
/// ELF64, little endian, `ET_EXEC` or `ET_DYN`, `EM_AARCH64`, `e_phentsize`
/// 56),
/// program headers inside the file, no `PT_INTERP`, and for every
/// `PT_LOAD`: file range inside the file, `filesz <= memsz`, memory range
/// inside `user`, `vaddr ≡ offset (mod 4096)`, not both writable and
/// executable, no page shared with another segment; then at least one
/// `PT_LOAD`, and the entry point inside an executable one.
pub fn parse(data: &[u8], user: Range<u64>, dyn_base: u64) -> Result<Elf<'_>, ElfError> {
    if data.len() < EHDR_SIZE {
        return Err(ElfError::TooShort { len: data.len() });
    }
    if data[..4] != *b"\x7fELF" {
        return Err(ElfError::BadMagic);
    }
    if data[4] != 2 {
        return Err(ElfError::NotElf64);
    }
    if data[5] != 1 {
        return Err(ElfError::NotLittleEndian);
    }
    let e_type = u16_at(data, 16);
    let machine = u16_at(data, 18);
    if machine != EM_AARCH64 {
        return Err(ElfError::WrongMachine { machine });
    }
    if e_type != ET_EXEC && e_type != ET_DYN {
        return Err(ElfError::NotExecutable { e_type });
    }
    let entry = u64_at(data, 24);
    let phoff = u64_at(data, 32);
    let phentsize = u16_at(data, 54);
    let phnum = u16_at(data, 56);
    if u64::from(phentsize) != PHDR_SIZE {
        return Err(ElfError::BadPhentsize { size: phentsize });
    }
    let table_size = u64::from(phnum) * PHDR_SIZE;
    if phnum == 0 || table_size > MAX_PHDRS_SIZE {
        return Err(ElfError::BadPhnum { phnum });
    }
    let phoff = phoff
        .checked_add(table_size)
        .filter(|&end| end <= data.len() as u64)
        .and_then(|_| usize::try_from(phoff).ok())
        .ok_or(ElfError::PhdrsOutOfFile)?;

    let mut elf = Elf {
        data,
        entry,
        phoff,
        phnum,
        from: 0,
        to: 0,
        dynamic: e_type == ET_DYN,
    };
    if elf.dynamic {
        let lowest = elf
            .phdrs()
            .filter(|ph| ph.p_type == PT_LOAD)
            .filter_map(|ph| ph.p_vaddr)
            .min()
            .ok_or(ElfError::NoLoadSegments)?;
        elf.from = align_down(lowest);
        elf.to = align_down(dyn_base);
    }
    elf.entry = elf
        .biased(entry)
        .ok_or(ElfError::EntryNotExecutable { entry })?;
    elf.validate_segments(user)?;
    Ok(elf)
}

impl<'a> Elf<'a> {
    /// Link address `vaddr` as a load address (see [`Elf::from`]).
    fn biased(&self, vaddr: u64) -> Option<u64> {
        vaddr.checked_sub(self.from)?.checked_add(self.to)
    }

    /// Program header `i`; `i < phnum` and the table is inside the file.
    fn phdr(&self, i: usize) -> Phdr {
        let h = &self.data[self.phoff + i * PHDR_SIZE as usize..][..PHDR_SIZE as usize];
        Phdr {
            p_type: u32_at(h, 0),
            p_flags: u32_at(h, 4),
            p_offset: u64_at(h, 8),
            p_vaddr: self.biased(u64_at(h, 16)),
            link_vaddr: u64_at(h, 16),
            p_filesz: u64_at(h, 32),
            p_memsz: u64_at(h, 40),
        }
    }

    fn phdrs(&self) -> impl Iterator<Item = Phdr> + '_ {
        (0..usize::from(self.phnum)).map(|i| self.phdr(i))
    }

    fn validate_segments(&self, user: Range<u64>) -> Result<(), ElfError> {
        let mut loads = 0;
        for (index, ph) in self.phdrs().enumerate() {
            if ph.p_type == PT_INTERP {
                return Err(ElfError::Interpreter);
            }
            if ph.p_type != PT_LOAD {
                continue;
            }
            loads += 1;
            let file_end = ph.p_offset.checked_add(ph.p_filesz);
            if file_end.is_none_or(|end| end > self.data.len() as u64) {
                return Err(ElfError::SegmentOutOfFile { index });
            }
            if ph.p_filesz > ph.p_memsz {
                return Err(ElfError::FileszExceedsMemsz { index });
            }
            let outside = ElfError::SegmentOutsideUser {
                index,
                vaddr: ph.p_vaddr.unwrap_or(ph.link_vaddr),
                memsz: ph.p_memsz,
            };
            let Some(vaddr) = ph.p_vaddr else {
                return Err(outside);
            };
            let mem_end = vaddr.checked_add(ph.p_memsz);
            if vaddr < user.start || mem_end.is_none_or(|end| end > user.end) {
                return Err(outside);
            }
            if vaddr % PAGE_SIZE != ph.p_offset % PAGE_SIZE {
                return Err(ElfError::NotPageCongruent { index });
            }
            if ph.p_flags & PF_W != 0 && ph.p_flags & PF_X != 0 {
                return Err(ElfError::WriteAndExecute { index });
            }
            // Earlier segments are already valid; compare the pages touched.
            let Some((first_page, last_page)) = ph.segment().pages() else {
                continue;
            };
            for (first, other) in self.phdrs().enumerate().take(index) {
                if other.p_type != PT_LOAD {
                    continue;
                }
                if let Some((o_first, o_last)) = other.segment().pages()
                    && first_page <= o_last
                    && o_first <= last_page
                {
                    return Err(ElfError::Overlap {
                        first,
                        second: index,
                    });
                }
            }
        }
        if loads == 0 {
            return Err(ElfError::NoLoadSegments);
        }
        let entry_ok = self
            .load_segments()
            .any(|s| s.perm.exec && (s.vaddr..s.vaddr + s.memsz).contains(&self.entry));
        if !entry_ok {
            return Err(ElfError::EntryNotExecutable { entry: self.entry });
        }
        Ok(())
    }

    /// `e_entry` after the bias: where the first thread starts
    /// (`AT_ENTRY`).
    pub fn entry(&self) -> u64 {
        self.entry
    }

    /// Whether the image is `ET_DYN` (a static PIE), loaded at the chosen
    /// base rather than its link addresses.
    pub fn is_dynamic(&self) -> bool {
        self.dynamic
    }

    /// What was added to every link address (0 for `ET_EXEC`).
    pub fn load_bias(&self) -> u64 {
        self.to.wrapping_sub(self.from)
    }

    /// The `PT_LOAD` segments, in program header order.
    pub fn load_segments(&self) -> impl Iterator<Item = Segment> + '_ {
        self.phdrs()
            .filter(|ph| ph.p_type == PT_LOAD)
            .map(|ph| ph.segment())
    }

    /// The `filesz` bytes of `segment` in the file.
    ///
    /// # Panics
    ///
    /// If `segment` did not come from this image's
    /// [`load_segments`](Self::load_segments) and its file range is outside
    /// the file.
    pub fn segment_bytes(&self, segment: &Segment) -> &'a [u8] {
        let range = usize::try_from(segment.offset)
            .ok()
            .zip(usize::try_from(segment.filesz).ok())
            .and_then(|(start, len)| Some(start..start.checked_add(len)?));
        match range.and_then(|r| self.data.get(r)) {
            Some(bytes) => bytes,
            None => panic!("segment {segment:?} is not from this ELF image"),
        }
    }

    /// The user address of the program header table, for `AT_PHDR`: mirrors
    /// Linux's `load_elf_binary()`, which finds the `PT_LOAD` whose file
    /// range contains `e_phoff`; `None` when no segment maps the whole table
    /// (the program then cannot read its own headers, e.g. for TLS setup).
    pub fn phdr_vaddr(&self) -> Option<u64> {
        let start = self.phoff as u64;
        let end = start + u64::from(self.phnum) * PHDR_SIZE;
        self.load_segments()
            .find(|s| s.offset <= start && end <= s.offset + s.filesz)
            .map(|s| s.vaddr + (start - s.offset))
    }

    /// `e_phnum`, for `AT_PHNUM`.
    pub fn phnum(&self) -> u16 {
        self.phnum
    }
}

#[cfg(test)]
mod tests {
    extern crate std;
    use super::*;
    use std::string::ToString;
    use std::vec::Vec;

    const USER: Range<u64> = 0x40_0000..0x1_0000_0000;
    /// Where the tests place `ET_DYN` images.
    const DYN_BASE: u64 = 0x1000_0000;

    /// A program header to put in a test image.
    #[derive(Clone, Copy)]
    struct Ph {
        p_type: u32,
        flags: u32,
        offset: u64,
        vaddr: u64,
        filesz: u64,
        memsz: u64,
    }

    const RX: u32 = PF_R | PF_X;
    const RW: u32 = PF_R | PF_W;

    fn load(flags: u32, offset: u64, vaddr: u64, filesz: u64, memsz: u64) -> Ph {
        Ph {
            p_type: PT_LOAD,
            flags,
            offset,
            vaddr,
            filesz,
            memsz,
        }
    }

    /// Assembles an ELF64 header at 0, program headers at 64, and pads the
    /// file to `len` bytes filled with a recognisable pattern.
    fn image(entry: u64, phdrs: &[Ph], len: usize) -> Vec<u8> {
        typed_image(ET_EXEC, entry, phdrs, len)
    }

    /// [`image`] with another `e_type`.
    fn typed_image(e_type: u16, entry: u64, phdrs: &[Ph], len: usize) -> Vec<u8> {
        let mut f = Vec::new();
        f.extend_from_slice(b"\x7fELF");
        f.extend_from_slice(&[2, 1, 1, 0]); // ELFCLASS64, LSB, EV_CURRENT, SYSV
        f.extend_from_slice(&[0; 8]);
        f.extend_from_slice(&e_type.to_le_bytes());
        f.extend_from_slice(&EM_AARCH64.to_le_bytes());
        f.extend_from_slice(&1u32.to_le_bytes()); // e_version
        f.extend_from_slice(&entry.to_le_bytes());
        f.extend_from_slice(&64u64.to_le_bytes()); // e_phoff
        f.extend_from_slice(&0u64.to_le_bytes()); // e_shoff
        f.extend_from_slice(&0u32.to_le_bytes()); // e_flags
        f.extend_from_slice(&64u16.to_le_bytes()); // e_ehsize
        f.extend_from_slice(&56u16.to_le_bytes()); // e_phentsize
        f.extend_from_slice(&(phdrs.len() as u16).to_le_bytes());
        f.extend_from_slice(&64u16.to_le_bytes()); // e_shentsize
        f.extend_from_slice(&[0; 4]); // e_shnum, e_shstrndx
        assert_eq!(f.len(), EHDR_SIZE);
        for p in phdrs {
            f.extend_from_slice(&p.p_type.to_le_bytes());
            f.extend_from_slice(&p.flags.to_le_bytes());
            f.extend_from_slice(&p.offset.to_le_bytes());
            f.extend_from_slice(&p.vaddr.to_le_bytes());
            f.extend_from_slice(&p.vaddr.to_le_bytes()); // p_paddr
            f.extend_from_slice(&p.filesz.to_le_bytes());
            f.extend_from_slice(&p.memsz.to_le_bytes());
            f.extend_from_slice(&PAGE_SIZE.to_le_bytes()); // p_align
        }
        assert!(f.len() <= len);
        while f.len() < len {
            f.push(f.len() as u8);
        }
        f
    }

    /// A typical static executable: headers + text in one RX segment at
    /// 0x400000, data + bss in an RW segment two pages further on.
    fn typical() -> Vec<u8> {
        image(
            0x40_0100,
            &[
                load(RX, 0, 0x40_0000, 0x1800, 0x1800),
                load(RW, 0x2000, 0x40_2000, 0x100, 0x3000),
                Ph {
                    p_type: 0x6474_e551, // PT_GNU_STACK: ignored
                    flags: RW,
                    offset: 0,
                    vaddr: 0,
                    filesz: 0,
                    memsz: 0,
                },
            ],
            0x2100,
        )
    }

    fn err(data: &[u8]) -> ElfError {
        parse(data, USER, DYN_BASE).unwrap_err()
    }

    #[test]
    fn accepts_a_typical_static_executable() {
        let data = typical();
        let elf = parse(&data, USER, DYN_BASE).unwrap();
        assert_eq!(elf.entry(), 0x40_0100);
        assert_eq!(elf.phnum(), 3);
        let segs: Vec<Segment> = elf.load_segments().collect();
        assert_eq!(segs.len(), 2);
        assert_eq!(
            segs[0],
            Segment {
                vaddr: 0x40_0000,
                memsz: 0x1800,
                filesz: 0x1800,
                offset: 0,
                perm: Perm {
                    read: true,
                    write: false,
                    exec: true
                }
            }
        );
        assert_eq!(
            segs[1].perm,
            Perm {
                read: true,
                write: true,
                exec: false
            }
        );
        assert_eq!(segs[1].page_range(), 0x40_2000..0x40_5000);
        let bytes = elf.segment_bytes(&segs[1]);
        assert_eq!(bytes.len(), 0x100);
        assert_eq!(bytes[0], data[0x2000]);
        assert_eq!(elf.segment_bytes(&segs[0]).len(), 0x1800);
        // The headers are in the first segment at file offset 64.
        assert_eq!(elf.phdr_vaddr(), Some(0x40_0040));
    }

    /// What gcc's `-static-pie` produces: linked at 0, headers and text
    /// in an RX segment, data and bss in an RW one, a `PT_DYNAMIC` (the
    /// program's own relocations) and no `PT_INTERP`.
    fn static_pie(lowest: u64) -> Vec<u8> {
        typed_image(
            ET_DYN,
            lowest + 0x100,
            &[
                load(RX, 0, lowest, 0x1800, 0x1800),
                load(RW, 0x2000, lowest + 0x2000, 0x100, 0x3000),
                Ph {
                    p_type: 2, // PT_DYNAMIC: ignored by the loader
                    flags: RW,
                    offset: 0x2000,
                    vaddr: lowest + 0x2000,
                    filesz: 0x80,
                    memsz: 0x80,
                },
            ],
            0x2100,
        )
    }

    #[test]
    fn static_pie_is_placed_at_the_chosen_base() {
        let data = static_pie(0);
        let elf = parse(&data, USER, DYN_BASE).unwrap();
        assert!(elf.is_dynamic());
        assert_eq!(elf.load_bias(), DYN_BASE);
        assert_eq!(elf.entry(), DYN_BASE + 0x100);
        let segs: Vec<Segment> = elf.load_segments().collect();
        assert_eq!(segs.len(), 2);
        assert_eq!((segs[0].vaddr, segs[0].offset), (DYN_BASE, 0));
        assert_eq!(segs[1].page_range(), DYN_BASE + 0x2000..DYN_BASE + 0x5000);
        assert_eq!(elf.segment_bytes(&segs[1])[0], data[0x2000]);
        // AT_PHDR: the headers at file offset 64, in the first segment.
        assert_eq!(elf.phdr_vaddr(), Some(DYN_BASE + 0x40));
        // Another base moves everything by the same amount.
        let elf = parse(&data, USER, 0x2000_0000).unwrap();
        assert_eq!(elf.entry(), 0x2000_0100);
        assert_eq!(elf.phdr_vaddr(), Some(0x2000_0040));
    }

    #[test]
    fn static_pie_lowest_segment_page_lands_on_the_base() {
        // Linked at 0x10000 rather than 0: the lowest page goes to the base.
        let data = static_pie(0x1_0000);
        let elf = parse(&data, USER, DYN_BASE).unwrap();
        assert_eq!(elf.load_bias(), DYN_BASE - 0x1_0000);
        assert_eq!(elf.load_segments().next().unwrap().vaddr, DYN_BASE);
        assert_eq!(elf.entry(), DYN_BASE + 0x100);
    }

    #[test]
    fn static_pie_must_fit_at_the_base() {
        let data = static_pie(0);
        // The RW segment's end passes the top of the user range.
        assert_eq!(
            parse(&data, USER, USER.end - 0x4000).unwrap_err(),
            ElfError::SegmentOutsideUser {
                index: 1,
                vaddr: USER.end - 0x2000,
                memsz: 0x3000
            }
        );
        // Below the user range.
        assert!(matches!(
            parse(&data, USER, 0x1000).unwrap_err(),
            ElfError::SegmentOutsideUser { index: 0, .. }
        ));
        // Where the bias would overflow.
        assert!(matches!(
            parse(&static_pie(0), USER, !0xfff).unwrap_err(),
            ElfError::SegmentOutsideUser { .. }
        ));
    }

    #[test]
    fn dynamically_linked_pie_is_refused() {
        let d = typed_image(
            ET_DYN,
            0x100,
            &[
                load(RX, 0, 0, 0x1000, 0x1000),
                Ph {
                    p_type: PT_INTERP,
                    flags: PF_R,
                    offset: 0x200,
                    vaddr: 0x200,
                    filesz: 0x1b,
                    memsz: 0x1b,
                },
            ],
            0x1000,
        );
        assert_eq!(err(&d), ElfError::Interpreter);
    }

    #[test]
    fn exec_images_ignore_the_dynamic_base() {
        let data = typical();
        for base in [0, DYN_BASE, 0x8000_0000] {
            let elf = parse(&data, USER, base).unwrap();
            assert!(!elf.is_dynamic());
            assert_eq!(elf.load_bias(), 0);
            assert_eq!(elf.entry(), 0x40_0100);
            assert_eq!(elf.load_segments().next().unwrap().vaddr, 0x40_0000);
        }
    }

    #[test]
    fn unaligned_but_congruent_segments_are_fine() {
        // lld-style: RW starts mid-page at an address congruent to its offset.
        let data = image(
            0x40_0100,
            &[
                load(RX, 0, 0x40_0000, 0x1234, 0x1234),
                load(RW, 0x1234, 0x40_3234, 0x10, 0x20),
            ],
            0x1244,
        );
        let elf = parse(&data, USER, DYN_BASE).unwrap();
        let rw = elf.load_segments().nth(1).unwrap();
        assert_eq!(rw.page_range(), 0x40_3000..0x40_4000);
    }

    #[test]
    fn header_identity_errors() {
        let good = typical();
        assert_eq!(err(&good[..63]), ElfError::TooShort { len: 63 });
        assert_eq!(err(&[]), ElfError::TooShort { len: 0 });
        let mut d = good.clone();
        d[1] = b'X';
        assert_eq!(err(&d), ElfError::BadMagic);
        let mut d = good.clone();
        d[4] = 1;
        assert_eq!(err(&d), ElfError::NotElf64);
        let mut d = good.clone();
        d[5] = 2;
        assert_eq!(err(&d), ElfError::NotLittleEndian);
        let mut d = good.clone();
        d[18..20].copy_from_slice(&62u16.to_le_bytes()); // EM_X86_64
        assert_eq!(err(&d), ElfError::WrongMachine { machine: 62 });
        let mut d = good.clone();
        d[16..18].copy_from_slice(&1u16.to_le_bytes()); // ET_REL
        assert_eq!(err(&d), ElfError::NotExecutable { e_type: 1 });
        assert_eq!(err(&d).to_string(), "not an executable (e_type 1)");
        let mut d = good.clone();
        d[16..18].copy_from_slice(&4u16.to_le_bytes()); // ET_CORE
        assert_eq!(err(&d), ElfError::NotExecutable { e_type: 4 });
        let mut d = good.clone();
        d[54..56].copy_from_slice(&32u16.to_le_bytes());
        assert_eq!(err(&d), ElfError::BadPhentsize { size: 32 });
    }

    #[test]
    fn program_header_table_errors() {
        let good = typical();
        let mut d = good.clone();
        d[56..58].copy_from_slice(&0u16.to_le_bytes());
        assert_eq!(err(&d), ElfError::BadPhnum { phnum: 0 });
        let mut d = good.clone();
        d[56..58].copy_from_slice(&0xffffu16.to_le_bytes()); // PN_XNUM
        assert_eq!(err(&d), ElfError::BadPhnum { phnum: 0xffff });
        let mut d = good.clone();
        d[32..40].copy_from_slice(&(good.len() as u64 - 100).to_le_bytes());
        assert_eq!(err(&d), ElfError::PhdrsOutOfFile);
        let mut d = good.clone();
        d[32..40].copy_from_slice(&u64::MAX.to_le_bytes());
        assert_eq!(err(&d), ElfError::PhdrsOutOfFile);
    }

    #[test]
    fn rejects_interpreter() {
        let d = image(
            0x40_0100,
            &[
                Ph {
                    p_type: PT_INTERP,
                    flags: PF_R,
                    offset: 0x100,
                    vaddr: 0x40_0100,
                    filesz: 0x1b,
                    memsz: 0x1b,
                },
                load(RX, 0, 0x40_0000, 0x1000, 0x1000),
            ],
            0x1000,
        );
        assert_eq!(err(&d), ElfError::Interpreter);
    }

    #[test]
    fn rejects_segment_outside_file() {
        let d = image(0x40_0100, &[load(RX, 0, 0x40_0000, 0x1001, 0x1001)], 0x1000);
        assert_eq!(err(&d), ElfError::SegmentOutOfFile { index: 0 });
        let d = image(0x40_0100, &[load(RX, u64::MAX, 0x40_0fff, 2, 2)], 0x1000);
        assert_eq!(err(&d), ElfError::SegmentOutOfFile { index: 0 });
    }

    #[test]
    fn rejects_filesz_above_memsz() {
        let d = image(0x40_0100, &[load(RX, 0, 0x40_0000, 0x1000, 0xfff)], 0x1000);
        assert_eq!(err(&d), ElfError::FileszExceedsMemsz { index: 0 });
    }

    #[test]
    fn rejects_segments_outside_user_range() {
        let below = image(0x3f_f100, &[load(RX, 0, 0x3f_f000, 0x100, 0x100)], 0x1000);
        assert_eq!(
            err(&below),
            ElfError::SegmentOutsideUser {
                index: 0,
                vaddr: 0x3f_f000,
                memsz: 0x100
            }
        );
        let above = image(
            0xffff_f100,
            &[load(RX, 0, 0xffff_f000, 0x1000, 0x1001)],
            0x1000,
        );
        assert!(matches!(err(&above), ElfError::SegmentOutsideUser { .. }));
        // Exactly up to the end is fine.
        let edge = image(
            0xffff_f100,
            &[load(RX, 0, 0xffff_f000, 0x1000, 0x1000)],
            0x1000,
        );
        assert!(parse(&edge, USER, DYN_BASE).is_ok());
        let wraps = image(
            0x40_0100,
            &[load(RX, 0, 0x40_0000, 0x1000, u64::MAX - 0x1000)],
            0x1000,
        );
        assert!(matches!(err(&wraps), ElfError::SegmentOutsideUser { .. }));
    }

    #[test]
    fn rejects_incongruent_offset() {
        let d = image(
            0x40_0100,
            &[
                load(RX, 0, 0x40_0000, 0x1000, 0x1000),
                load(RW, 0x1000, 0x40_2010, 0x10, 0x10),
            ],
            0x1010,
        );
        assert_eq!(err(&d), ElfError::NotPageCongruent { index: 1 });
    }

    #[test]
    fn rejects_writable_and_executable() {
        let d = image(
            0x40_0100,
            &[load(RX | PF_W, 0, 0x40_0000, 0x1000, 0x1000)],
            0x1000,
        );
        assert_eq!(err(&d), ElfError::WriteAndExecute { index: 0 });
        assert_eq!(
            err(&d).to_string(),
            "segment 0: writable and executable (W^X)"
        );
    }

    #[test]
    fn rejects_segments_sharing_a_page() {
        // Bytes do not overlap, but the RW segment starts on the RX one's
        // last page.
        let d = image(
            0x40_0100,
            &[
                load(RX, 0, 0x40_0000, 0x1800, 0x1800),
                load(RW, 0x1800, 0x40_1800, 0x100, 0x100),
            ],
            0x1900,
        );
        assert_eq!(
            err(&d),
            ElfError::Overlap {
                first: 0,
                second: 1
            }
        );
        // Order does not matter.
        let d = image(
            0x40_0100,
            &[
                load(RW, 0x1000, 0x40_1000, 0x100, 0x1000),
                load(RX, 0, 0x40_0000, 0x1000, 0x1001),
            ],
            0x1100,
        );
        assert_eq!(
            err(&d),
            ElfError::Overlap {
                first: 0,
                second: 1
            }
        );
    }

    #[test]
    fn empty_load_segment_occupies_no_page() {
        let d = image(
            0x40_0100,
            &[
                load(RX, 0, 0x40_0000, 0x1000, 0x1000),
                load(RW, 0x800, 0x40_0800, 0, 0),
            ],
            0x1000,
        );
        let elf = parse(&d, USER, DYN_BASE).unwrap();
        assert_eq!(elf.load_segments().count(), 2);
        assert!(
            elf.segment_bytes(&elf.load_segments().nth(1).unwrap())
                .is_empty()
        );
    }

    #[test]
    fn requires_a_load_segment() {
        let d = image(
            0,
            &[Ph {
                p_type: 0x6474_e551,
                flags: RW,
                offset: 0,
                vaddr: 0,
                filesz: 0,
                memsz: 0,
            }],
            0x100,
        );
        assert_eq!(err(&d), ElfError::NoLoadSegments);
    }

    #[test]
    fn entry_must_be_executable() {
        let segs = [
            load(RX, 0, 0x40_0000, 0x1000, 0x1000),
            load(RW, 0x1000, 0x40_1000, 0x100, 0x100),
        ];
        let in_data = image(0x40_1000, &segs, 0x1100);
        assert_eq!(
            err(&in_data),
            ElfError::EntryNotExecutable { entry: 0x40_1000 }
        );
        let past_text = image(0x40_1000, &segs[..1], 0x1000);
        assert!(matches!(
            err(&past_text),
            ElfError::EntryNotExecutable { .. }
        ));
        let nowhere = image(0x10, &segs, 0x1100);
        assert!(matches!(err(&nowhere), ElfError::EntryNotExecutable { .. }));
        let last_byte = image(0x40_0fff, &segs, 0x1100);
        assert!(parse(&last_byte, USER, DYN_BASE).is_ok());
    }

    #[test]
    fn phdr_vaddr_needs_the_table_mapped() {
        // Text segment starts after the headers: AT_PHDR unknown.
        let d = image(
            0x40_1000,
            &[load(RX, 0x1000, 0x40_1000, 0x100, 0x100)],
            0x1100,
        );
        let elf = parse(&d, USER, DYN_BASE).unwrap();
        assert_eq!(elf.phdr_vaddr(), None);
        // Segment covers only part of the table.
        let d = image(0x40_0000, &[load(RX, 0, 0x40_0000, 100, 100)], 0x1000);
        assert_eq!(parse(&d, USER, DYN_BASE).unwrap().phdr_vaddr(), None);
    }

    #[test]
    #[should_panic(expected = "not from this ELF image")]
    fn segment_bytes_rejects_foreign_segments() {
        let data = typical();
        let elf = parse(&data, USER, DYN_BASE).unwrap();
        let mut seg = elf.load_segments().next().unwrap();
        seg.offset = 0x10_0000;
        let _ = elf.segment_bytes(&seg);
    }

    #[test]
    fn error_messages_are_clear() {
        assert_eq!(
            ElfError::SegmentOutsideUser {
                index: 2,
                vaddr: 0x1000,
                memsz: 0x20
            }
            .to_string(),
            "segment 2: 0x1000 + 0x20 is outside the user address range"
        );
        assert_eq!(
            ElfError::Overlap {
                first: 0,
                second: 1
            }
            .to_string(),
            "segments 0 and 1 share a page"
        );
        assert_eq!(
            ElfError::EntryNotExecutable { entry: 0x10 }.to_string(),
            "entry point 0x10 is not in an executable segment"
        );
    }
}

//! The initial user stack of a new process, laid out as Linux does.
//!
//! Mirrors `create_elf_tables()` (fs/binfmt_elf.c) and the string copies of
//! `do_execveat_common()` (fs/exec.c), so that a static Linux aarch64
//! executable's startup code (`_start` in glibc, musl, or our own runtime)
//! finds what it expects. From high to low addresses:
//!
//! ```text
//! stack_top  ─┬─ 8 zero bytes            (Linux: bprm->p = vm_end - sizeof(void *))
//!             ├─ envp strings, NUL-terminated, above the argv strings
//!             ├─ argv strings            (argv[0] lowest; AT_EXECFN points at it)
//!             ├─ the platform string     ("aarch64"; AT_PLATFORM points at it)
//!             ├─ padding to 16
//!             ├─ 16 AT_RANDOM bytes
//!             ├─ padding so that sp is 16-byte aligned (STACK_ROUND)
//!             ├─ auxv: (type, value) pairs ..., AT_RANDOM, AT_EXECFN, AT_PLATFORM, AT_NULL
//!             ├─ NULL, envp[envc-1] .. envp[0]
//!             ├─ NULL, argv[argc-1] .. argv[0]
//! sp         ─┴─ argc
//! ```
//!
//! The builder works on a byte image of the stack's user pages, so it is
//! pure and host-tested; the kernel copies or maps that image at
//! `[stack_top - stack.len(), stack_top)`.

use core::fmt;

use abi::auxv::*;

/// Why the initial stack could not be built.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StackError {
    /// The stack image is smaller than what the arguments need.
    TooSmall {
        /// Bytes below `stack_top` the layout needs.
        needed: u64,
        /// Bytes the stack image has.
        available: u64,
    },
    /// `stack_top - stack.len()` is below address 0.
    BadRange,
    /// An argument or environment string contains a NUL byte, which would
    /// silently cut it short for a C program.
    NulInString,
    /// The caller's auxv contains a type the builder adds itself
    /// (`AT_NULL`, `AT_RANDOM`, `AT_EXECFN`, `AT_PLATFORM`).
    ReservedAuxType {
        /// The offending type.
        a_type: u64,
    },
}

impl fmt::Display for StackError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Self::TooSmall { needed, available } => write!(
                f,
                "initial stack needs {needed} bytes for arguments, environment \
                 and auxv, but the stack has {available}"
            ),
            Self::BadRange => f.write_str("stack image extends below address 0"),
            Self::NulInString => f.write_str("argument or environment string contains a NUL byte"),
            Self::ReservedAuxType { a_type } => write!(
                f,
                "auxv type {a_type} is added by the stack builder and must not be passed"
            ),
        }
    }
}

const WORD: u64 = 8;

/// Bytes to go down from `top - below` to reach a 16-byte boundary.
/// `wrapping_sub` is exact here: 2^64 is a multiple of 16.
const fn pad16(top: u64, below: u64) -> u64 {
    top.wrapping_sub(below) & 15
}

/// Writes the initial process stack into `stack`, the memory image of the
/// user range `[stack_top - stack.len(), stack_top)`, and returns the
/// initial `sp` (16-byte aligned, pointing at `argc`).
///
/// `auxv` holds the caller's `(type, value)` pairs (e.g. `AT_PHDR`,
/// `AT_PHENT`, `AT_PHNUM`, `AT_PAGESZ`, `AT_ENTRY`, `AT_HWCAP`, `AT_CLKTCK`,
/// `AT_RSEQ_FEATURE_SIZE`, `AT_RSEQ_ALIGN`), in the order they should
/// appear; the builder appends `AT_RANDOM` (pointing at a copy of `random`),
/// `AT_EXECFN` (pointing at the `argv[0]` string, when there is one),
/// `AT_PLATFORM` (pointing at a copy of `platform`, when given: Linux's
/// `ELF_PLATFORM`, "aarch64") and `AT_NULL`. Bytes of `stack` between the returned `sp` and `stack_top` are
/// all written (padding zeroed); those below `sp` are untouched.
///
/// # Errors
///
/// [`StackError::TooSmall`] if the layout does not fit,
/// [`StackError::BadRange`] if `stack.len() > stack_top`,
/// [`StackError::NulInString`] for a string with an interior NUL,
/// [`StackError::ReservedAuxType`] if `auxv` contains a type the builder
/// writes itself.
pub fn build_initial_stack(
    stack: &mut [u8],
    stack_top: u64,
    argv: &[&str],
    envp: &[&str],
    auxv: &[(u64, u64)],
    random: &[u8; 16],
    platform: Option<&str>,
) -> Result<u64, StackError> {
    let available = stack.len() as u64;
    let base = stack_top
        .checked_sub(available)
        .ok_or(StackError::BadRange)?;
    if argv
        .iter()
        .chain(envp)
        .chain(&platform)
        .any(|s| s.as_bytes().contains(&0))
    {
        return Err(StackError::NulInString);
    }
    if let Some(&(a_type, _)) = auxv
        .iter()
        .find(|(t, _)| matches!(*t, AT_NULL | AT_RANDOM | AT_EXECFN | AT_PLATFORM))
    {
        return Err(StackError::ReservedAuxType { a_type });
    }

    // Sizes, as "bytes below stack_top", so nothing can underflow before the
    // final fit check. Overflow would need more than 2^64 bytes of input.
    let too_big = StackError::TooSmall {
        needed: u64::MAX,
        available,
    };
    let strings: u64 = argv
        .iter()
        .chain(envp)
        .map(|s| s.len() as u64 + 1)
        .try_fold(0u64, u64::checked_add)
        .ok_or(too_big)?;
    let aux_entries =
        auxv.len() as u64 + 1 + u64::from(!argv.is_empty()) + u64::from(platform.is_some()) + 1;
    // argc, argv[] + NULL, envp[] + NULL, auxv pairs.
    let words = (argv.len() as u64 + 1)
        .checked_add(envp.len() as u64 + 1)
        .and_then(|w| w.checked_add(1))
        .and_then(|w| w.checked_add(aux_entries.checked_mul(2)?))
        .ok_or(too_big)?;

    let strings_below = WORD.checked_add(strings).ok_or(too_big)?;
    let platform_len = platform.map_or(0, |p| p.len() as u64 + 1);
    let platform_below = strings_below.checked_add(platform_len).ok_or(too_big)?;
    let random_below = (platform_below + pad16(stack_top, platform_below))
        .checked_add(16)
        .ok_or(too_big)?;
    let table_below = words
        .checked_mul(WORD)
        .and_then(|t| t.checked_add(random_below))
        .ok_or(too_big)?;
    let needed = table_below + pad16(stack_top, table_below);
    if needed > available {
        return Err(StackError::TooSmall { needed, available });
    }

    let strings_start = stack_top - strings_below;
    let random_addr = stack_top - random_below;
    let sp = stack_top - needed;
    debug_assert_eq!(sp % 16, 0);

    let mut image = StackImage { stack, base };
    image.fill_zero(sp, stack_top);

    // Strings, argv then envp, ascending; pointers to them in the same order.
    let mut string_at = strings_start;
    let mut ptr_at = sp;
    image.put_u64(&mut ptr_at, argv.len() as u64);
    for list in [argv, envp] {
        for s in list {
            image.put_u64(&mut ptr_at, string_at);
            image.put_bytes(&mut string_at, s.as_bytes());
            image.put_bytes(&mut string_at, &[0]);
        }
        image.put_u64(&mut ptr_at, 0);
    }
    let platform_addr = stack_top - platform_below;
    if let Some(p) = platform {
        let mut at = platform_addr;
        image.put_bytes(&mut at, p.as_bytes());
        image.put_bytes(&mut at, &[0]);
    }
    let mut at = random_addr;
    image.put_bytes(&mut at, random);

    for &(a_type, value) in auxv {
        image.put_u64(&mut ptr_at, a_type);
        image.put_u64(&mut ptr_at, value);
    }
    image.put_u64(&mut ptr_at, AT_RANDOM);
    image.put_u64(&mut ptr_at, random_addr);
    if !argv.is_empty() {
        image.put_u64(&mut ptr_at, AT_EXECFN);
        image.put_u64(&mut ptr_at, strings_start);
    }
    if platform.is_some() {
        image.put_u64(&mut ptr_at, AT_PLATFORM);
        image.put_u64(&mut ptr_at, platform_addr);
    }
    image.put_u64(&mut ptr_at, AT_NULL);
    image.put_u64(&mut ptr_at, 0);
    debug_assert!(ptr_at <= random_addr);

    Ok(sp)
}

/// The stack bytes addressed by user virtual address.
struct StackImage<'s> {
    stack: &'s mut [u8],
    base: u64,
}

impl StackImage<'_> {
    /// The slice index of user address `addr`. Only called with addresses
    /// in `[sp, stack_top)`, which the fit check put inside the image.
    fn index(&self, addr: u64) -> usize {
        (addr - self.base) as usize
    }

    fn fill_zero(&mut self, from: u64, to: u64) {
        let (from, to) = (self.index(from), self.index(to));
        self.stack[from..to].fill(0);
    }

    /// Writes `bytes` at `*at` and advances `*at` past them.
    fn put_bytes(&mut self, at: &mut u64, bytes: &[u8]) {
        let i = self.index(*at);
        self.stack[i..i + bytes.len()].copy_from_slice(bytes);
        *at += bytes.len() as u64;
    }

    /// Writes a little-endian word at `*at` and advances `*at` past it.
    fn put_u64(&mut self, at: &mut u64, value: u64) {
        self.put_bytes(at, &value.to_le_bytes());
    }
}

#[cfg(test)]
mod tests {
    extern crate std;
    use super::*;
    use std::string::{String, ToString};
    use std::vec;
    use std::vec::Vec;

    const TOP: u64 = 0x7fff_0000;
    const RANDOM: [u8; 16] = *b"0123456789abcdef";

    /// Reads back a built stack the way a C runtime's `_start` does.
    struct Decoded {
        argv: Vec<String>,
        envp: Vec<String>,
        auxv: Vec<(u64, u64)>,
    }

    fn read_u64(stack: &[u8], top: u64, addr: u64) -> u64 {
        let i = (addr - (top - stack.len() as u64)) as usize;
        u64::from_le_bytes(stack[i..i + 8].try_into().unwrap())
    }

    fn read_cstr(stack: &[u8], top: u64, addr: u64) -> String {
        let i = (addr - (top - stack.len() as u64)) as usize;
        let len = stack[i..].iter().position(|&b| b == 0).unwrap();
        String::from_utf8(stack[i..i + len].to_vec()).unwrap()
    }

    fn decode(stack: &[u8], top: u64, sp: u64) -> Decoded {
        let mut at = sp;
        let mut next = || {
            let v = read_u64(stack, top, at);
            at += 8;
            v
        };
        let argc = next();
        let argv: Vec<String> = (0..argc).map(|_| read_cstr(stack, top, next())).collect();
        assert_eq!(next(), 0, "argv NULL terminator");
        let mut envp = Vec::new();
        loop {
            match next() {
                0 => break,
                p => envp.push(read_cstr(stack, top, p)),
            }
        }
        let mut auxv = Vec::new();
        loop {
            let (t, v) = (next(), next());
            auxv.push((t, v));
            if t == AT_NULL {
                break;
            }
        }
        Decoded { argv, envp, auxv }
    }

    fn aux(d: &Decoded, t: u64) -> Option<u64> {
        d.auxv.iter().find(|&&(at, _)| at == t).map(|&(_, v)| v)
    }

    #[test]
    fn round_trip() {
        let mut stack = vec![0xaau8; 4096];
        let auxv = [
            (AT_PAGESZ, 4096),
            (AT_PHNUM, 4),
            (AT_RSEQ_FEATURE_SIZE, 33),
            (AT_RSEQ_ALIGN, 64),
        ];
        let sp = build_initial_stack(
            &mut stack,
            TOP,
            &["hello", "-v", ""],
            &["HOME=/", "TERM=vt100"],
            &auxv,
            &RANDOM,
            Some("aarch64"),
        )
        .unwrap();
        assert_eq!(sp % 16, 0);
        assert!((TOP - 4096..TOP).contains(&sp));
        let d = decode(&stack, TOP, sp);
        assert_eq!(d.argv, ["hello", "-v", ""]);
        assert_eq!(d.envp, ["HOME=/", "TERM=vt100"]);
        assert_eq!(aux(&d, AT_PAGESZ), Some(4096));
        assert_eq!(aux(&d, AT_RSEQ_FEATURE_SIZE), Some(33));
        assert_eq!(aux(&d, AT_RSEQ_ALIGN), Some(64));
        // Caller's pairs first, in order, then AT_RANDOM, AT_EXECFN,
        // AT_PLATFORM, AT_NULL.
        assert_eq!(&d.auxv[..4], &auxv);
        let types: Vec<u64> = d.auxv[4..].iter().map(|&(t, _)| t).collect();
        assert_eq!(types, [AT_RANDOM, AT_EXECFN, AT_PLATFORM, AT_NULL]);
        // AT_PLATFORM: the string, between the argv/envp strings and the
        // random bytes.
        let platform = aux(&d, AT_PLATFORM).unwrap();
        assert_eq!(read_cstr(&stack, TOP, platform), "aarch64");
        assert!(platform > aux(&d, AT_RANDOM).unwrap() + 15);
        assert_eq!(platform + 8, aux(&d, AT_EXECFN).unwrap());
        assert_eq!(d.auxv.last(), Some(&(AT_NULL, 0)));
        // AT_RANDOM points at the 16 bytes, 16-byte aligned, above the table.
        let r = aux(&d, AT_RANDOM).unwrap();
        assert_eq!(r % 16, 0);
        let i = (r - (TOP - 4096)) as usize;
        assert_eq!(stack[i..i + 16], RANDOM);
        // AT_EXECFN is the argv[0] string.
        assert_eq!(read_cstr(&stack, TOP, aux(&d, AT_EXECFN).unwrap()), "hello");
        // Linux keeps the top word zero.
        assert_eq!(read_u64(&stack, TOP, TOP - 8), 0);
        // Nothing below sp was touched.
        let sp_index = (sp - (TOP - 4096)) as usize;
        assert!(stack[..sp_index].iter().all(|&b| b == 0xaa));
    }

    #[test]
    fn argv_strings_are_contiguous_and_below_envp_strings() {
        let mut stack = vec![0u8; 1024];
        let sp = build_initial_stack(&mut stack, TOP, &["a", "bc"], &["X=1"], &[], &RANDOM, None)
            .unwrap();
        let argv0 = read_u64(&stack, TOP, sp + 8);
        let argv1 = read_u64(&stack, TOP, sp + 16);
        let envp0 = read_u64(&stack, TOP, sp + 32);
        assert_eq!(argv1, argv0 + 2);
        assert_eq!(envp0, argv1 + 3);
        assert_eq!(envp0 + 4, TOP - 8);
    }

    #[test]
    fn empty_argv_and_envp() {
        let mut stack = vec![0u8; 256];
        let sp = build_initial_stack(&mut stack, TOP, &[], &[], &[], &RANDOM, None).unwrap();
        let d = decode(&stack, TOP, sp);
        assert!(d.argv.is_empty());
        assert!(d.envp.is_empty());
        assert_eq!(aux(&d, AT_EXECFN), None, "no argv[0] to point at");
        assert_eq!(d.auxv.len(), 2);
        // argc, NULL, NULL, 2 aux pairs = 7 words, padded to 64; random 16;
        // top word 8 padded to 16.
        assert_eq!(TOP - sp, 64 + 16 + 16);
    }

    #[test]
    fn unaligned_stack_top_still_gives_aligned_sp() {
        for top in [TOP + 1, TOP + 7, TOP + 8, TOP + 15] {
            let mut stack = vec![0u8; 512];
            let sp = build_initial_stack(
                &mut stack,
                top,
                &["app"],
                &["A=b"],
                &[(AT_PAGESZ, 4096)],
                &RANDOM,
                None,
            )
            .unwrap();
            assert_eq!(sp % 16, 0, "top {top:#x}");
            let d = decode(&stack, top, sp);
            assert_eq!(d.argv, ["app"]);
            assert_eq!(aux(&d, AT_RANDOM).unwrap() % 16, 0);
        }
    }

    #[test]
    fn too_small_and_exact_fit() {
        let args: &[&str] = &["prog", "arg"];
        let mut big = vec![0u8; 4096];
        let sp = build_initial_stack(
            &mut big,
            TOP,
            args,
            &[],
            &[(AT_PAGESZ, 4096)],
            &RANDOM,
            None,
        )
        .unwrap();
        let needed = TOP - sp;
        let mut exact = vec![0u8; needed as usize];
        assert_eq!(
            build_initial_stack(
                &mut exact,
                TOP,
                args,
                &[],
                &[(AT_PAGESZ, 4096)],
                &RANDOM,
                None
            ),
            Ok(sp)
        );
        assert_eq!(exact[..], big[big.len() - needed as usize..]);
        let mut short = vec![0u8; needed as usize - 1];
        let e = build_initial_stack(
            &mut short,
            TOP,
            args,
            &[],
            &[(AT_PAGESZ, 4096)],
            &RANDOM,
            None,
        )
        .unwrap_err();
        assert_eq!(
            e,
            StackError::TooSmall {
                needed,
                available: needed - 1
            }
        );
        assert!(e.to_string().contains("needs"));
        let mut tiny = [0u8; 8];
        assert!(matches!(
            build_initial_stack(&mut tiny, TOP, &[], &[], &[], &RANDOM, None),
            Err(StackError::TooSmall { .. })
        ));
    }

    #[test]
    fn no_platform_no_entry() {
        let mut stack = vec![0u8; 1024];
        let sp = build_initial_stack(&mut stack, TOP, &["a"], &[], &[], &RANDOM, None).unwrap();
        assert_eq!(aux(&decode(&stack, TOP, sp), AT_PLATFORM), None);
        assert_eq!(
            build_initial_stack(&mut stack, TOP, &["a"], &[], &[], &RANDOM, Some("x\0")),
            Err(StackError::NulInString)
        );
    }

    #[test]
    fn stack_below_zero_is_rejected() {
        let mut stack = vec![0u8; 64];
        assert_eq!(
            build_initial_stack(&mut stack, 32, &[], &[], &[], &RANDOM, None),
            Err(StackError::BadRange)
        );
    }

    #[test]
    fn nul_in_string_is_rejected() {
        let mut stack = vec![0u8; 1024];
        assert_eq!(
            build_initial_stack(&mut stack, TOP, &["a\0b"], &[], &[], &RANDOM, None),
            Err(StackError::NulInString)
        );
        assert_eq!(
            build_initial_stack(&mut stack, TOP, &[], &["X=\0"], &[], &RANDOM, None),
            Err(StackError::NulInString)
        );
    }

    #[test]
    fn reserved_aux_types_are_rejected() {
        let mut stack = vec![0u8; 1024];
        for t in [AT_NULL, AT_RANDOM, AT_EXECFN, AT_PLATFORM] {
            assert_eq!(
                build_initial_stack(
                    &mut stack,
                    TOP,
                    &[],
                    &[],
                    &[(AT_PAGESZ, 1), (t, 0)],
                    &RANDOM,
                    None
                ),
                Err(StackError::ReservedAuxType { a_type: t })
            );
        }
    }

    #[test]
    fn auxv_numbers_are_linux_ones() {
        assert_eq!(
            [AT_NULL, AT_PHDR, AT_PHENT, AT_PHNUM, AT_PAGESZ, AT_ENTRY],
            [0, 3, 4, 5, 6, 9]
        );
        assert_eq!([AT_UID, AT_EUID, AT_GID, AT_EGID], [11, 12, 13, 14]);
        assert_eq!(
            [AT_HWCAP, AT_CLKTCK, AT_RANDOM, AT_HWCAP2],
            [16, 17, 25, 26]
        );
        assert_eq!(
            [AT_RSEQ_FEATURE_SIZE, AT_RSEQ_ALIGN, AT_EXECFN],
            [27, 28, 31]
        );
    }
}

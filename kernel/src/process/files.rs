//! The process's file descriptor table (Linux's `files_struct`) and the
//! calls that change it: dup, dup3, fcntl, close.
//!
//! There is no filesystem, so there are three open file descriptions (Linux's
//! `struct file`), made at boot and never more: the console opened for
//! reading (at end of file: there is no console input) and twice for
//! writing. The app starts with fd 0 on the first, fds 1 and 2 on the
//! others, as a shell would hand them over; dup'd fds share a description
//! and so its status flags. Every fd syscall looks its fd up here
//! ([`fget`]), so a closed fd is `EBADF` everywhere. One table for all the
//! app's threads (glibc's threads share it with CLONE_FILES; a thread made
//! without it shares it too, where Linux would give it a copy).
//!
//! New fds obey RLIMIT_NOFILE (`EMFILE`); the table grows in powers of
//! two past the 64 slots it holds itself (Linux's `NR_OPEN_DEFAULT`), one
//! byte per fd of kernel heap, and a growth that cannot be allocated is
//! `ENOMEM`.

use super::rlimit;
use crate::sync::SpinLock;
use crate::syscall::error::Errno;
use abi::errno::{EBADF, EINVAL, EMFILE, ENOMEM};
use abi::fcntl::{
    F_DUPFD, F_DUPFD_CLOEXEC, F_GETFD, F_GETFL, F_SETFD, F_SETFL, FD_CLOEXEC, O_ACCMODE, O_CLOEXEC,
    O_DIRECT, O_RDONLY, O_WRONLY, SETFL_MASK,
};
use alloc::vec::Vec;
use core::sync::atomic::{AtomicU32, Ordering};

/// What an open file description is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// The console's input: always at end of file.
    ConsoleIn,
    /// The console's output.
    ConsoleOut,
}

/// An open file description (Linux's `struct file`): what it is, and its
/// access mode and status flags (`f_flags`, what F_GETFL reports).
pub struct Description {
    /// What it reads or writes.
    pub kind: Kind,
    flags: AtomicU32,
}

impl Description {
    /// The access mode and status flags.
    pub fn flags(&self) -> u32 {
        self.flags.load(Ordering::Relaxed)
    }

    /// Opened for reading (Linux's FMODE_READ).
    pub fn can_read(&self) -> bool {
        self.flags() & O_ACCMODE != O_WRONLY
    }

    /// Opened for writing (Linux's FMODE_WRITE).
    pub fn can_write(&self) -> bool {
        self.flags() & O_ACCMODE != O_RDONLY
    }

    /// Sets the status flags of `mask` to those of `value`; the access
    /// mode never changes.
    pub fn set_status(&self, mask: u32, value: u32) {
        let mask = mask & !O_ACCMODE;
        let _ = self
            .flags
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |f| {
                Some((f & !mask) | (value & mask))
            });
    }
}

/// The three descriptions: fd 0's, fd 1's and fd 2's at start.
static DESCRIPTIONS: [Description; 3] = [
    Description {
        kind: Kind::ConsoleIn,
        flags: AtomicU32::new(O_RDONLY),
    },
    Description {
        kind: Kind::ConsoleOut,
        flags: AtomicU32::new(O_WRONLY),
    },
    Description {
        kind: Kind::ConsoleOut,
        flags: AtomicU32::new(O_WRONLY),
    },
];

/// A slot's close-on-exec bit; the low bits hold the description's index
/// plus one (0: the fd is closed).
const CLOEXEC: u8 = 0x80;

/// The slot of an open fd on description `index`.
const fn slot(index: usize, cloexec: bool) -> u8 {
    (index as u8 + 1) | if cloexec { CLOEXEC } else { 0 }
}

/// Slots the table holds without allocating (Linux's `NR_OPEN_DEFAULT`).
const NR_OPEN_DEFAULT: usize = 64;

/// The table: a slot per fd.
struct FdTable {
    /// Fds 0..64.
    first: [u8; NR_OPEN_DEFAULT],
    /// Fds 64.., as far as the table has grown.
    more: Vec<u8>,
    /// No fd below this is free (Linux's `next_fd`): where a search for
    /// the lowest free fd starts.
    next_fd: usize,
}

static FILES: SpinLock<FdTable> = SpinLock::new(FdTable {
    first: {
        let mut t = [0; NR_OPEN_DEFAULT];
        t[0] = slot(0, false);
        t[1] = slot(1, false);
        t[2] = slot(2, false);
        t
    },
    more: Vec::new(),
    next_fd: 3,
});

impl FdTable {
    /// Slots there are (Linux's `max_fds`).
    fn capacity(&self) -> usize {
        NR_OPEN_DEFAULT + self.more.len()
    }

    /// The slot of `fd` (0 past the end).
    fn get(&self, fd: usize) -> u8 {
        if fd < NR_OPEN_DEFAULT {
            self.first[fd]
        } else {
            self.more.get(fd - NR_OPEN_DEFAULT).copied().unwrap_or(0)
        }
    }

    /// The slot of `fd`, which [`expand`](Self::expand) made room for.
    fn slot_mut(&mut self, fd: usize) -> &mut u8 {
        if fd < NR_OPEN_DEFAULT {
            &mut self.first[fd]
        } else {
            &mut self.more[fd - NR_OPEN_DEFAULT]
        }
    }

    /// Linux's `expand_files()`: makes room for `fd`, doubling; `ENOMEM`
    /// when the heap cannot hold it, `EMFILE` past `NR_OPEN`.
    fn expand(&mut self, fd: usize) -> Result<(), Errno> {
        if fd < self.capacity() {
            return Ok(());
        }
        if fd as u64 >= rlimit::NR_OPEN {
            return Err(Errno(EMFILE));
        }
        let want = (fd + 1).next_power_of_two() - NR_OPEN_DEFAULT;
        self.more
            .try_reserve_exact(want - self.more.len())
            .map_err(|_| Errno(ENOMEM))?;
        self.more.resize(want, 0);
        Ok(())
    }

    /// Linux's `alloc_fd(start, end)`: the lowest free fd at or above
    /// `start`, which must be below `end` (`EMFILE`), with `slot` in it.
    fn alloc(&mut self, start: usize, end: u64, slot: u8) -> Result<usize, Errno> {
        let mut fd = start.max(self.next_fd);
        while fd < self.capacity() && self.get(fd) != 0 {
            fd += 1;
        }
        if fd as u64 >= end {
            return Err(Errno(EMFILE));
        }
        self.expand(fd)?;
        if start <= self.next_fd {
            self.next_fd = fd + 1;
        }
        *self.slot_mut(fd) = slot;
        Ok(fd)
    }

    /// Empties the slot of `fd` (Linux's `__put_unused_fd`).
    fn release(&mut self, fd: usize) {
        *self.slot_mut(fd) = 0;
        if fd < self.next_fd {
            self.next_fd = fd;
        }
    }
}

/// The description open as `fd` (Linux's `fget`), or `EBADF`.
pub fn fget(fd: u32) -> Result<&'static Description, Errno> {
    let s = FILES.lock().get(fd as usize);
    description(s).ok_or(Errno(EBADF))
}

/// The description a slot names.
fn description(slot: u8) -> Option<&'static Description> {
    let index = (slot & !CLOEXEC) as usize;
    index.checked_sub(1).map(|i| &DESCRIPTIONS[i])
}

/// Sets or clears `fd`'s close-on-exec flag (Linux's
/// `set_close_on_exec`; FIOCLEX, FIONCLEX); `EBADF` if it is closed.
pub fn set_cloexec(fd: u32, on: bool) -> Result<(), Errno> {
    let mut files = FILES.lock();
    let fd = fd as usize;
    let s = files.get(fd);
    if s == 0 {
        return Err(Errno(EBADF));
    }
    *files.slot_mut(fd) = if on { s | CLOEXEC } else { s & !CLOEXEC };
    Ok(())
}

/// Puts `fd`'s description on a new fd, the lowest free at or above
/// `from` (below RLIMIT_NOFILE: `EMFILE`).
fn dup_from(fd: u32, from: usize, cloexec: bool) -> Result<u32, Errno> {
    let end = rlimit::nofile();
    let mut files = FILES.lock();
    let s = files.get(fd as usize);
    if s == 0 {
        return Err(Errno(EBADF));
    }
    let new = files.alloc(
        from,
        end,
        (s & !CLOEXEC) | if cloexec { CLOEXEC } else { 0 },
    )?;
    Ok(new as u32)
}

/// dup(oldfd): the lowest free fd on the same description, close-on-exec
/// clear; `EBADF` for a closed `oldfd`, `EMFILE` when every fd below
/// RLIMIT_NOFILE is taken.
pub fn sys_dup(oldfd: u32) -> Result<u32, Errno> {
    dup_from(oldfd, 0, false)
}

/// dup3(oldfd, newfd, flags), Linux's checks in order: flags other than
/// O_CLOEXEC `EINVAL`, `oldfd == newfd` `EINVAL`, `newfd` at or past
/// RLIMIT_NOFILE `EBADF`, a closed `oldfd` `EBADF`, no memory for the
/// table to reach `newfd` `ENOMEM`. An fd open at `newfd` is closed first;
/// returns `newfd`.
pub fn sys_dup3(oldfd: u32, newfd: u32, flags: i32) -> Result<u32, Errno> {
    if flags as u32 & !O_CLOEXEC != 0 {
        return Err(Errno(EINVAL));
    }
    if oldfd == newfd {
        return Err(Errno(EINVAL));
    }
    if u64::from(newfd) >= rlimit::nofile() {
        return Err(Errno(EBADF));
    }
    let mut files = FILES.lock();
    let grown = files.expand(newfd as usize);
    let s = files.get(oldfd as usize);
    if s == 0 {
        return Err(Errno(EBADF));
    }
    match grown {
        Err(Errno(EMFILE)) => return Err(Errno(EBADF)),
        Err(e) => return Err(e),
        Ok(()) => {}
    }
    let cloexec = flags as u32 & O_CLOEXEC != 0;
    *files.slot_mut(newfd as usize) = (s & !CLOEXEC) | if cloexec { CLOEXEC } else { 0 };
    Ok(newfd)
}

/// fcntl(fd, cmd, arg): a closed `fd` `EBADF`, then
/// - F_DUPFD, F_DUPFD_CLOEXEC: as dup, the lowest free fd at or above
///   `arg` (an `int`), which must be below RLIMIT_NOFILE (`EINVAL`);
/// - F_GETFD, F_SETFD: the fd's FD_CLOEXEC;
/// - F_GETFL: the description's access mode and status flags;
/// - F_SETFL: the status flags O_APPEND, O_NONBLOCK and O_NOATIME, shared
///   with the fds dup'd from it (others ignored; O_DIRECT `EINVAL`, the
///   console cannot do direct I/O);
/// - any other command `EINVAL`.
pub fn sys_fcntl(fd: u32, cmd: u32, arg: u64) -> Result<i64, Errno> {
    let desc = fget(fd)?;
    let argi = arg as u32 as i32;
    match cmd {
        F_DUPFD | F_DUPFD_CLOEXEC => {
            let from = argi as u32;
            if u64::from(from) >= rlimit::nofile() {
                return Err(Errno(EINVAL));
            }
            dup_from(fd, from as usize, cmd == F_DUPFD_CLOEXEC).map(i64::from)
        }
        F_GETFD => {
            let s = FILES.lock().get(fd as usize);
            if s == 0 {
                return Err(Errno(EBADF));
            }
            Ok(if s & CLOEXEC != 0 {
                FD_CLOEXEC as i64
            } else {
                0
            })
        }
        F_SETFD => set_cloexec(fd, argi as u64 & FD_CLOEXEC != 0).map(|()| 0),
        F_GETFL => Ok(i64::from(desc.flags())),
        F_SETFL => {
            let arg = argi as u32;
            if arg & O_DIRECT != 0 {
                return Err(Errno(EINVAL));
            }
            desc.set_status(SETFL_MASK, arg);
            Ok(0)
        }
        _ => Err(Errno(EINVAL)),
    }
}

/// close(fd): frees the fd (the console stays open through any other fd
/// on it); `EBADF` if it is not open.
pub fn sys_close(fd: u32) -> Result<(), Errno> {
    let mut files = FILES.lock();
    if files.get(fd as usize) == 0 {
        return Err(Errno(EBADF));
    }
    files.release(fd as usize);
    Ok(())
}

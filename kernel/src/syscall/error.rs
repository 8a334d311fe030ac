//! What a syscall handler returns besides its value: an errno the app gets
//! back (`-errno` in x0), or a verdict that ends the app.

use crate::process::verdict::{Kill, Verdict};

/// A Linux errno (`abi::errno`), positive; the app sees `-errno`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Errno(pub i64);

/// A syscall that did not return a value.
#[derive(Clone, Copy, Debug)]
pub enum SysError {
    /// Returned to the app as `-errno`.
    Errno(Errno),
    /// The app ends (exit, exit_group, or a state the kernel cannot continue).
    End(Verdict),
}

impl From<Errno> for SysError {
    fn from(e: Errno) -> SysError {
        SysError::Errno(e)
    }
}

impl From<Kill> for SysError {
    fn from(k: Kill) -> SysError {
        SysError::End(Verdict::Kill(k))
    }
}

impl From<Verdict> for SysError {
    fn from(v: Verdict) -> SysError {
        SysError::End(v)
    }
}

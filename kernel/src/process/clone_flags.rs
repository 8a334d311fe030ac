//! clone(2) flag checking, pure so it is host-tested: rseq-os threads are
//! pthread-style threads of the one app, nothing else (no fork, no
//! namespaces, no exit signal).

use abi::errno::EINVAL;

use abi::clone::*;

/// What a thread must share: one address space, one signal table, one thread group.
const REQUIRED: u64 = CLONE_VM | CLONE_SIGHAND | CLONE_THREAD;
/// What may be asked on top (the rest of glibc's pthread_create set).
const OPTIONAL: u64 = CLONE_FS
    | CLONE_FILES
    | CLONE_SYSVSEM
    | CLONE_SETTLS
    | CLONE_PARENT_SETTID
    | CLONE_CHILD_CLEARTID
    | CLONE_CHILD_SETTID;

/// Checks clone flags: pthread-style threads only (no fork, no namespaces,
/// no exit signal). Pure, host-tested.
pub fn check_clone_flags(flags: u64) -> Result<(), i64> {
    if flags & REQUIRED != REQUIRED || flags & !(REQUIRED | OPTIONAL) != 0 {
        return Err(-EINVAL);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pthread_flags_are_accepted() {
        // glibc's pthread_create: CLONE_VM|FS|FILES|SIGHAND|THREAD|SYSVSEM|SETTLS|PARENT_SETTID|CHILD_CLEARTID
        assert_eq!(check_clone_flags(0x3d0f00), Ok(()));
        assert_eq!(check_clone_flags(REQUIRED), Ok(()));
    }

    #[test]
    fn fork_and_unknown_flags_are_refused() {
        assert_eq!(check_clone_flags(0x11), Err(-EINVAL)); // fork: SIGCHLD
        assert_eq!(check_clone_flags(0x3d0f00 & !CLONE_VM), Err(-EINVAL));
        assert_eq!(check_clone_flags(0x3d0f00 & !CLONE_THREAD), Err(-EINVAL));
        assert_eq!(check_clone_flags(0x3d0f00 | 0x20000), Err(-EINVAL)); // CLONE_NEWNS
        assert_eq!(check_clone_flags(0x3d0f00 | 17), Err(-EINVAL)); // an exit signal
    }
}

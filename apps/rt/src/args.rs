//! argv, the environment and the auxiliary vector, from the initial stack.

/// The app's arguments, environment and auxiliary vector.
#[derive(Clone, Copy)]
pub struct Args {
    argc: usize,
    argv: *const *const u8,
    envp: *const *const u8,
    auxv: *const [u64; 2],
}

/// A NUL-terminated string on the initial stack ("" if not UTF-8).
///
/// # Safety
///
/// `p` points at a NUL-terminated string that lives as long as the app.
unsafe fn c_str(p: *const u8) -> &'static str {
    // SAFETY: the caller's promise.
    unsafe {
        let mut n = 0;
        while *p.add(n) != 0 {
            n += 1;
        }
        core::str::from_utf8(core::slice::from_raw_parts(p, n)).unwrap_or("")
    }
}

impl Args {
    /// # Safety
    ///
    /// `sp` must point at a Linux initial stack.
    pub unsafe fn from_initial_stack(sp: *const u64) -> Args {
        // SAFETY: the layout is argc, argv[argc], NULL, envp..., NULL, auxv.
        unsafe {
            let argc = *sp as usize;
            let argv = sp.add(1) as *const *const u8;
            let envp = argv.add(argc + 1);
            let mut end = envp;
            while !(*end).is_null() {
                end = end.add(1);
            }
            Args {
                argc,
                argv,
                envp,
                auxv: end.add(1) as *const [u64; 2],
            }
        }
    }

    /// Number of arguments, including argv[0].
    pub fn len(&self) -> usize {
        self.argc
    }

    /// True when there are no arguments at all (not even argv[0]).
    pub fn is_empty(&self) -> bool {
        self.argc == 0
    }

    /// argv[i] as a string ("" if absent or not UTF-8).
    pub fn get(&self, i: usize) -> &'static str {
        if i >= self.argc {
            return "";
        }
        // SAFETY: argv[i] for i < argc is a NUL-terminated string on the stack,
        // which lives as long as the app.
        unsafe { c_str(*self.argv.add(i)) }
    }

    /// The environment's `NAME=VALUE` strings, in order.
    pub fn env(&self) -> impl Iterator<Item = &'static str> {
        let mut p = self.envp;
        core::iter::from_fn(move || {
            // SAFETY: envp is a NULL-terminated array of NUL-terminated
            // strings on the stack; `p` never passes its NULL.
            unsafe {
                let s = *p;
                if s.is_null() {
                    return None;
                }
                p = p.add(1);
                Some(c_str(s))
            }
        })
    }

    /// The value of auxiliary vector entry `key` (`getauxval`).
    pub fn auxval(&self, key: u64) -> Option<u64> {
        let mut p = self.auxv;
        // SAFETY: the auxv is terminated by AT_NULL (0).
        unsafe {
            while (*p)[0] != 0 {
                if (*p)[0] == key {
                    return Some((*p)[1]);
                }
                p = p.add(1);
            }
        }
        None
    }
}

//! Loading the app: the ELF parser, the initial user stack Linux builds
//! (argc, argv, envp, auxv), and `exec`, which maps the embedded app.

pub mod elf;
#[cfg(target_os = "none")]
pub mod exec;
pub mod user_stack;

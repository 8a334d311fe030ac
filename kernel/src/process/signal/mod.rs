//! Signals: actions, masks, kill/tgkill, delivery with Linux's arm64 signal
//! frame, rt_sigreturn, and the default actions (fatal signals end the app
//! with a report). Delivery happens in the exit loop on TIF_SIGPENDING
//! (`do_signal`), the point where rseq hooks in.

pub mod deliver;
pub mod queue;
pub mod state;
pub mod syscalls;

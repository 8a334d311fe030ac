//! A fake user memory (a byte buffer at a fake user base, an `access_ok`
//! window, a configurable faulting address) and a test bench holding one
//! task, one CPU's statistics and the IDs to publish.

use crate::uapi::{RSEQ_SIG, Rseq};
use crate::{Ctx, Fault, Ids, Mode, RseqStats, TaskRseq, UserMem, Version};
use std::vec;
use std::vec::Vec;

/// Where the fake user memory starts.
pub const BASE: u64 = 0x4000_0000;
/// Its size.
pub const SIZE: u64 = 0x1000;
/// The registered area (64-aligned, so good for both modes).
pub const AREA: u64 = BASE + 0x100;
/// The critical section descriptor.
pub const CS: u64 = BASE + 0x200;
/// The critical section: `[START, START + LEN)`.
pub const START: u64 = BASE + 0x410;
/// Its length.
pub const LEN: u64 = 0x20;
/// Its abort handler, with the signature at `ABORT - 4`.
pub const ABORT: u64 = BASE + 0x480;
/// The top of the fake user address space (Linux's TASK_SIZE).
pub const TASK_SIZE: u64 = 1 << 48;
/// Fill byte for memory the kernel must not write.
pub const FILL: u8 = 0xAA;

/// The byte offsets of the `struct rseq` fields.
pub const CPU_ID_START: u64 = Rseq::CPU_ID_START_OFFSET as u64;
pub const CPU_ID: u64 = Rseq::CPU_ID_OFFSET as u64;
pub const RSEQ_CS: u64 = Rseq::RSEQ_CS_OFFSET as u64;
pub const FLAGS: u64 = Rseq::FLAGS_OFFSET as u64;
pub const NODE_ID: u64 = Rseq::NODE_ID_OFFSET as u64;
pub const MM_CID: u64 = Rseq::MM_CID_OFFSET as u64;
pub const SLICE_CTRL: u64 = Rseq::SLICE_CTRL_OFFSET as u64;

/// Fake user memory.
pub struct FakeMem {
    pub bytes: Vec<u8>,
    /// `access_ok` accepts `[user_lo, user_hi)`.
    pub user_lo: u64,
    pub user_hi: u64,
    /// An access covering this address faults...
    pub fault_at: Option<u64>,
    /// ...this many more times (`u32::MAX`: for ever).
    pub fault_left: u32,
    /// Reads and writes done through the trait.
    pub reads: u32,
    pub writes: u32,
}

impl FakeMem {
    pub fn new() -> Self {
        FakeMem {
            bytes: vec![FILL; SIZE as usize],
            user_lo: 0x1000,
            user_hi: TASK_SIZE,
            fault_at: None,
            fault_left: 0,
            reads: 0,
            writes: 0,
        }
    }

    /// Faults at `addr`, `times` times.
    pub fn fault(&mut self, addr: u64, times: u32) {
        self.fault_at = Some(addr);
        self.fault_left = times;
    }

    fn locate(&mut self, addr: u64, len: u64) -> Result<usize, Fault> {
        if let Some(f) = self.fault_at
            && self.fault_left > 0
            && addr <= f
            && f < addr.saturating_add(len)
        {
            if self.fault_left != u32::MAX {
                self.fault_left -= 1;
            }
            return Err(Fault);
        }
        if !self.access_ok(addr, len) {
            return Err(Fault);
        }
        let off = addr.checked_sub(BASE).ok_or(Fault)?;
        if off + len > SIZE {
            return Err(Fault);
        }
        Ok(off as usize)
    }

    pub fn peek32(&self, addr: u64) -> u32 {
        let o = (addr - BASE) as usize;
        u32::from_le_bytes(self.bytes[o..o + 4].try_into().unwrap())
    }
    pub fn peek64(&self, addr: u64) -> u64 {
        let o = (addr - BASE) as usize;
        u64::from_le_bytes(self.bytes[o..o + 8].try_into().unwrap())
    }
    pub fn poke32(&mut self, addr: u64, v: u32) {
        let o = (addr - BASE) as usize;
        self.bytes[o..o + 4].copy_from_slice(&v.to_le_bytes());
    }
    pub fn poke64(&mut self, addr: u64, v: u64) {
        let o = (addr - BASE) as usize;
        self.bytes[o..o + 8].copy_from_slice(&v.to_le_bytes());
    }
    pub fn accesses(&self) -> u32 {
        self.reads + self.writes
    }
}

impl UserMem for FakeMem {
    fn read_u32(&mut self, addr: u64) -> Result<u32, Fault> {
        self.reads += 1;
        self.locate(addr, 4)?;
        Ok(self.peek32(addr))
    }
    fn read_u64(&mut self, addr: u64) -> Result<u64, Fault> {
        self.reads += 1;
        self.locate(addr, 8)?;
        Ok(self.peek64(addr))
    }
    fn write_u32(&mut self, addr: u64, v: u32) -> Result<(), Fault> {
        self.writes += 1;
        self.locate(addr, 4)?;
        self.poke32(addr, v);
        Ok(())
    }
    fn write_u64(&mut self, addr: u64, v: u64) -> Result<(), Fault> {
        self.writes += 1;
        self.locate(addr, 8)?;
        self.poke64(addr, v);
        Ok(())
    }
    fn access_ok(&self, addr: u64, len: u64) -> bool {
        addr >= self.user_lo && addr.checked_add(len).is_some_and(|end| end <= self.user_hi)
    }
}

/// How a test's task is registered: the image's mode and the version its
/// registration runs, which in a `linux` image its length chooses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Setup {
    pub mode: Mode,
    pub version: Version,
}

impl Setup {
    /// The length the task registers with.
    pub fn len(self) -> u32 {
        self.version.len()
    }
}

/// A v1 image.
pub const V1: Setup = Setup {
    mode: Mode::V1,
    version: Version::V1,
};
/// A v2 image.
pub const V2: Setup = Setup {
    mode: Mode::V2,
    version: Version::V2,
};
/// A `linux` image, 32-byte registration.
pub const LINUX_V1: Setup = Setup {
    mode: Mode::Linux,
    version: Version::V1,
};
/// A `linux` image, 64-byte registration.
pub const LINUX_V2: Setup = Setup {
    mode: Mode::Linux,
    version: Version::V2,
};
/// Every setup: the tests that hold for any registration run in each.
pub const ALL: [Setup; 4] = [V1, V2, LINUX_V1, LINUX_V2];
/// The setups that must behave as a v1 image does: a `linux` image's
/// 32-byte registration runs exactly v1's paths.
pub const AS_V1: [Setup; 2] = [V1, LINUX_V1];
/// The setups that must behave as a v2 image does.
pub const AS_V2: [Setup; 2] = [V2, LINUX_V2];

/// One task on one CPU.
pub struct Bench {
    pub mem: FakeMem,
    pub stats: RseqStats,
    pub t: TaskRseq,
    pub mode: Mode,
    pub debug: bool,
    pub cpu: u32,
    pub cid: u32,
    pub node: u32,
    pub pc: u64,
}

impl Bench {
    /// An unregistered task on CPU 1, cid 3, node 0, IP outside any
    /// section, in the setup's image.
    pub fn new(setup: Setup) -> Self {
        Bench {
            mem: FakeMem::new(),
            stats: RseqStats::default(),
            t: TaskRseq::default(),
            mode: setup.mode,
            debug: false,
            cpu: 1,
            cid: 3,
            node: 0,
            pc: BASE + 0x800,
        }
    }

    /// Registered with the setup's length at `AREA` (and so running its
    /// version), the first exit done, statistics and access counters reset.
    pub fn registered(setup: Setup) -> Self {
        let mut b = Bench::new(setup);
        assert_eq!(b.rseq(AREA, setup.len(), 0, RSEQ_SIG), Ok(true));
        assert_eq!(b.t.has_rseq, setup.version as u8, "{setup:?}");
        assert!(b.fast());
        b.exit();
        b.reset_counters();
        b
    }

    /// [`Bench::registered`] in debug mode, which, like the kernel's
    /// `rseq_debug=1`, holds from before the registration.
    pub fn registered_debug(setup: Setup) -> Self {
        let mut b = Bench::new(setup);
        b.debug = true;
        assert_eq!(b.rseq(AREA, setup.len(), 0, RSEQ_SIG), Ok(true));
        assert!(b.fast());
        b.exit();
        b.reset_counters();
        b
    }

    /// The IDs the task keeps as written, if its version keeps them: v2
    /// always, v1 only in debug mode.
    pub fn kept_ids(&self, setup: Setup, ids: Ids) -> Option<Ids> {
        (setup.version == Version::V2 || self.debug).then_some(ids)
    }

    pub fn reset_counters(&mut self) {
        self.stats = RseqStats::default();
        self.mem.reads = 0;
        self.mem.writes = 0;
    }

    /// Runs `f` with the task and a context.
    pub fn with<R>(
        &mut self,
        f: impl FnOnce(&mut TaskRseq, &mut Ctx<'_, FakeMem>, &mut u64) -> R,
    ) -> R {
        let mut ctx = Ctx {
            mem: &mut self.mem,
            stats: &mut self.stats,
            cpu_id: self.cpu,
            mm_cid: self.cid,
            node_id: self.node,
            debug: self.debug,
            mode: self.mode,
        };
        f(&mut self.t, &mut ctx, &mut self.pc)
    }

    pub fn rseq(
        &mut self,
        ptr: u64,
        len: u32,
        flags: u32,
        sig: u32,
    ) -> Result<bool, (i64, Option<&'static str>)> {
        self.rseq_slice(ptr, len, flags, sig, true)
    }

    pub fn rseq_slice(
        &mut self,
        ptr: u64,
        len: u32,
        flags: u32,
        sig: u32,
        slice_available: bool,
    ) -> Result<bool, (i64, Option<&'static str>)> {
        self.with(|t, ctx, _| crate::sys_rseq(t, ctx, ptr, len, flags, sig, slice_available))
            .map_err(|e| (e.errno, e.why))
    }

    /// Whether the refusal of this registration is the mode rule (the one
    /// the kernel logs at the default level).
    pub fn refused_by_mode_rule(&mut self, ptr: u64, len: u32, flags: u32, sig: u32) -> bool {
        self.with(|t, ctx, _| crate::sys_rseq(t, ctx, ptr, len, flags, sig, true))
            .expect_err("must fail")
            .mode_rule
    }

    pub fn errno(&mut self, ptr: u64, len: u32, flags: u32, sig: u32) -> i64 {
        self.rseq(ptr, len, flags, sig).expect_err("must fail").0
    }

    /// Switched in on `(cpu, cid)`, as the kernel's scheduler does it:
    /// a CPU or mm_cid other than the task's last is reported first.
    pub fn switch_in(&mut self, cpu: u32, cid: u32) -> bool {
        if (cpu, cid) != (self.cpu, self.cid) {
            crate::sched_set_ids_changed(&mut self.t);
        }
        self.cpu = cpu;
        self.cid = cid;
        crate::sched_switch_event(&mut self.t, self.mode)
    }

    pub fn irq(&mut self) {
        crate::note_user_irq_entry(&mut self.t);
    }

    pub fn fast(&mut self) -> bool {
        self.with(crate::exit_fastpath)
    }

    pub fn slow(&mut self) -> Result<(), crate::Fatal> {
        self.with(crate::slowpath)
    }

    pub fn signal(&mut self) -> Result<bool, crate::Fatal> {
        self.with(crate::signal_deliver)
    }

    pub fn syscall(&mut self) -> Result<(), crate::Fatal> {
        self.with(|t, ctx, pc| crate::debug_syscall(t, ctx, *pc))
    }

    pub fn exit(&mut self) {
        crate::exit_to_user_mode(&mut self.t, &mut self.stats);
    }

    /// Writes a descriptor at `CS` and points `rseq_cs` at it.
    pub fn set_cs(&mut self, start: u64, len: u64, abort: u64) {
        self.mem.poke64(CS, 0);
        self.mem.poke64(CS + 8, start);
        self.mem.poke64(CS + 16, len);
        self.mem.poke64(CS + 24, abort);
        self.mem.poke64(AREA + RSEQ_CS, CS);
    }

    /// The standard section, signature in place, `rseq_cs` set.
    pub fn good_cs(&mut self) {
        self.mem.poke32(ABORT - 4, RSEQ_SIG);
        self.set_cs(START, LEN, ABORT);
    }

    pub fn field(&self, off: u64) -> u32 {
        self.mem.peek32(AREA + off)
    }

    pub fn rseq_cs(&self) -> u64 {
        self.mem.peek64(AREA + RSEQ_CS)
    }

    /// The four ID fields as user space sees them.
    pub fn ids(&self) -> [u32; 4] {
        [
            self.field(CPU_ID_START),
            self.field(CPU_ID),
            self.field(NODE_ID),
            self.field(MM_CID),
        ]
    }
}

//! The GIC, version 2 or 3, behind one small interface over `arm-gic`.
//!
//! GICv2 is driven through GICC_IAR/GICC_EOIR with every interrupt in
//! Group 0: QEMU's GICv2 and the Pi 4's GIC-400 as the firmware leaves it have
//! no security extensions visible to us, and arm-gic's Group 1 path uses the
//! aliased AIAR/AEOIR registers, which are wrong there (DESIGN §5).
//! GICv3 uses the ICC system registers and Group 1.

use arm_gic::gicv2::GicV2;
use arm_gic::gicv3::registers::{Gicd, GicrSgi};
use arm_gic::gicv3::{GicCpuInterface, GicV3};
use arm_gic::{IntId, InterruptGroup, Trigger};
use core::ptr::NonNull;

/// Which GIC architecture, with its register frames.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum GicConfig {
    /// GICv2 (or GIC-400): distributor and CPU interface.
    V2 { gicd: usize, gicc: usize },
    /// GICv3: distributor and the first redistributor.
    V3 { gicd: usize, gicr: usize },
}

/// An initialised GIC.
pub enum Gic {
    /// GICv2 driver.
    V2(GicV2<'static>),
    /// GICv3 driver.
    V3(GicV3<'static>),
}

impl Gic {
    /// Initialises the distributor and this CPU's interface.
    ///
    /// # Safety
    ///
    /// The addresses must be the GIC's register frames, mapped as device
    /// memory, with no other driver instance using them.
    pub unsafe fn init(config: GicConfig, cpus: usize, cpu: usize) -> Gic {
        // The configuration holds physical addresses (the DTB's); the
        // kernel reaches devices through its linear map.
        let config = match config {
            GicConfig::V2 { gicd, gicc } => GicConfig::V2 {
                gicd: crate::mmu::phys_to_virt(gicd as u64) as usize,
                gicc: crate::mmu::phys_to_virt(gicc as u64) as usize,
            },
            GicConfig::V3 { gicd, gicr } => GicConfig::V3 {
                gicd: crate::mmu::phys_to_virt(gicd as u64) as usize,
                gicr: crate::mmu::phys_to_virt(gicr as u64) as usize,
            },
        };
        match config {
            GicConfig::V2 { gicd, gicc } => {
                // SAFETY: the caller guarantees the frames are the GICv2 ones.
                let mut gic = unsafe { GicV2::new(gicd as *mut _, gicc as *mut _) };
                gic.setup();
                Gic::V2(gic)
            }
            GicConfig::V3 { gicd, gicr } => {
                // SAFETY: the caller guarantees the frames are the GICv3 ones.
                let mut gic = unsafe {
                    let gicd = safe_mmio_pointer(gicd as *mut Gicd);
                    GicV3::new(gicd, NonNull::new(gicr as *mut GicrSgi).unwrap(), cpus)
                }
                .expect("GICv3 redistributors");
                gic.setup(cpu);
                // arm-gic leaves ICC_PMR_EL1 at its reset value 0, which masks
                // every interrupt: open it to all priorities.
                GicCpuInterface::set_priority_mask(0xff);
                Gic::V3(gic)
            }
        }
    }

    /// The architecture version, 2 or 3.
    pub fn version(&self) -> u8 {
        match self {
            Gic::V2(_) => 2,
            Gic::V3(_) => 3,
        }
    }

    /// Enables a private (per-CPU) level-triggered interrupt on `cpu`.
    pub fn enable_ppi(&mut self, intid: u32, cpu: usize, priority: u8) {
        let id = IntId::ppi(intid - 16);
        match self {
            Gic::V2(gic) => {
                gic.set_interrupt_priority(id, priority);
                gic.set_trigger(id, Trigger::Level);
                gic.set_group(id, InterruptGroup::Group0);
                gic.enable_interrupt(id, true).expect("enable PPI");
            }
            Gic::V3(gic) => {
                gic.set_interrupt_priority(id, Some(cpu), priority)
                    .expect("PPI priority");
                gic.set_trigger(id, Some(cpu), Trigger::Level)
                    .expect("PPI trigger");
                gic.enable_interrupt(id, Some(cpu), true)
                    .expect("enable PPI");
            }
        }
    }

    /// Initialises the calling CPU's interface (GICv2: the banked GICC and
    /// ISENABLER0; GICv3: its redistributor and ICC registers).
    pub fn init_cpu(&mut self, cpu: usize) {
        match self {
            // `setup` also (re)writes the distributor's global state with the
            // same values: harmless, and arm-gic has no CPU-only entry point.
            Gic::V2(gic) => gic.setup(),
            Gic::V3(gic) => {
                gic.init_cpu(cpu);
                GicCpuInterface::enable_group1(true);
                GicCpuInterface::set_priority_mask(0xff);
            }
        }
    }

    /// Enables software-generated interrupt `sgi` on `cpu` (the calling CPU
    /// for GICv2, whose SGI enables are banked).
    pub fn enable_sgi(&mut self, sgi: u32, cpu: usize, priority: u8) {
        let id = IntId::sgi(sgi);
        match self {
            Gic::V2(gic) => {
                gic.set_interrupt_priority(id, priority);
                gic.set_group(id, InterruptGroup::Group0);
                // SGIs are often always-enabled (RAO/WI): ignore a refusal.
                let _ = gic.enable_interrupt(id, true);
            }
            Gic::V3(gic) => {
                gic.set_interrupt_priority(id, Some(cpu), priority)
                    .expect("SGI priority");
                gic.enable_interrupt(id, Some(cpu), true)
                    .expect("enable SGI");
            }
        }
    }

    /// Sends SGI `sgi` to CPU `cpu` (Aff0 = cpu, other affinity levels 0 on
    /// the supported boards; GICv2 CPU interface number = cpu).
    pub fn send_sgi(&mut self, sgi: u32, cpu: usize) {
        let id = IntId::sgi(sgi);
        match self {
            Gic::V2(gic) => gic.send_sgi(
                id,
                arm_gic::gicv2::SgiTarget::List {
                    target_list_filter: arm_gic::gicv2::SgiTargetListFilter::CPUTargetList,
                    target_list: 1 << cpu,
                },
            ),
            Gic::V3(_) => {
                let target = arm_gic::gicv3::SgiTarget::List {
                    affinity3: 0,
                    affinity2: 0,
                    affinity1: 0,
                    target_list: 1 << cpu,
                };
                let _ = GicCpuInterface::send_sgi(
                    id,
                    target,
                    arm_gic::gicv3::SgiTargetGroup::CurrentGroup1,
                );
            }
        }
    }

    /// Acknowledges the highest-priority pending interrupt (IAR path).
    pub fn ack(&mut self) -> Option<AckedIrq> {
        let raw = match self {
            Gic::V2(gic) => gic.get_and_acknowledge_interrupt(InterruptGroup::Group0),
            Gic::V3(_) => GicCpuInterface::get_and_acknowledge_interrupt(InterruptGroup::Group1),
        }?;
        Some(AckedIrq { raw })
    }

    /// Signals the end of an interrupt returned by [`Gic::ack`].
    pub fn eoi(&mut self, irq: AckedIrq) {
        match self {
            Gic::V2(gic) => gic.end_interrupt(irq.raw, InterruptGroup::Group0),
            Gic::V3(_) => GicCpuInterface::end_interrupt(irq.raw, InterruptGroup::Group1),
        }
    }
}

/// An acknowledged interrupt; must be handed back to [`Gic::eoi`].
#[derive(Clone, Copy, Debug)]
pub struct AckedIrq {
    /// The value read from the IAR, written back unchanged to the EOIR (on
    /// GICv2 it carries the source CPU of an SGI in bits 12:10).
    raw: IntId,
}

impl AckedIrq {
    /// The interrupt ID (0..1019).
    pub fn intid(&self) -> u32 {
        self.raw.raw_value() & 0x3ff
    }
}

/// Wraps a raw distributor address for arm-gic's GICv3 constructor.
///
/// # Safety
///
/// `ptr` must be the mapped GICv3 distributor with no other user.
unsafe fn safe_mmio_pointer(ptr: *mut Gicd) -> arm_gic::UniqueMmioPointer<'static, Gicd> {
    // SAFETY: forwarded from the caller.
    unsafe { arm_gic::UniqueMmioPointer::new(NonNull::new(ptr).unwrap()) }
}

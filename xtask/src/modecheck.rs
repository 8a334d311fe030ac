//! Proof from the built images that a v1 or v2 kernel is compiled for that
//! rseq mode only: the v1 image holds v1's update code and none of v2's,
//! and the other way round; and that a `linux` kernel, which picks the
//! version per registration at run time, holds both. The `rseq` crate
//! keeps each version's code in `#[inline(never)]` functions with these
//! names; `llvm-nm` lists the symbols of the kernel ELF (local ones too).

use std::process::Command;

use crate::boards::Board;
use crate::build;
use crate::workspace::Workspace;

/// Functions only a v1 kernel may contain.
pub const V1_ONLY: &[&str] = &["rseq_v1_force_ids_update"];
/// Functions only a v2 kernel may contain. (`rseq_v2_registration_flags`
/// is v2-only too, but folds away while the slice extension is off.)
pub const V2_ONLY: &[&str] = &[
    "rseq_v2_ids_event",
    "rseq_v2_validate_ro_ids",
    "rseq_v2_clear_slice_ctrl",
];

/// The apps whose images are checked, with their declared mode.
pub const APPS: &[(&str, &str)] = &[
    ("rseq-v1", "v1"),
    ("rseq-v2", "v2"),
    ("rseq-linux", "linux"),
];

/// Pure: the verdict on one image's symbol names.
pub fn judge(mode: &str, symbols: &str) -> Result<(), String> {
    let both = [V1_ONLY, V2_ONLY].concat();
    let (must, must_not): (&[&str], &[&str]) = match mode {
        "v1" => (V1_ONLY, V2_ONLY),
        "linux" => (&both, &[]),
        _ => (V2_ONLY, V1_ONLY),
    };
    let missing: Vec<_> = must.iter().filter(|f| !symbols.contains(*f)).collect();
    let present: Vec<_> = must_not.iter().filter(|f| symbols.contains(*f)).collect();
    if missing.is_empty() && present.is_empty() {
        Ok(())
    } else {
        Err(format!(
            "{mode} image: missing {missing:?}, has the other mode's {present:?}"
        ))
    }
}

/// Checks both images of `board` (already built by the runner).
pub fn check(ws: &Workspace, board: &Board) -> Result<String, String> {
    let nm = build::llvm_tool(ws, "llvm-nm")?;
    for (app, mode) in APPS {
        let elf = build::image_paths(ws, board, app, build::Profile::Release).elf;
        let out = Command::new(&nm)
            .arg(&elf)
            .output()
            .map_err(|e| format!("{}: {e}", nm.display()))?;
        if !out.status.success() {
            return Err(format!(
                "llvm-nm {}: {}",
                elf.display(),
                String::from_utf8_lossy(&out.stderr)
            ));
        }
        judge(mode, &String::from_utf8_lossy(&out.stdout))?;
    }
    Ok(format!(
        "v1 image has {V1_ONLY:?} and no v2 code; v2 image has {V2_ONLY:?} and no v1 code; \
         linux image has both"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_mode_needs_its_own_and_refuses_the_other() {
        let v1 = "0000 t _ZN4rseq2v124rseq_v1_force_ids_update17h0E\n";
        let v2 = "t rseq_v2_ids_event\nt rseq_v2_validate_ro_ids\nt rseq_v2_clear_slice_ctrl\n";
        assert_eq!(judge("v1", v1), Ok(()));
        assert_eq!(judge("v2", v2), Ok(()));
        assert!(judge("v1", &format!("{v1}{v2}")).is_err());
        assert!(judge("v2", &format!("{v2}{v1}")).is_err());
        assert!(judge("v2", "").is_err());
        // linux: both sets, each one alone is not enough.
        assert_eq!(judge("linux", &format!("{v1}{v2}")), Ok(()));
        assert!(judge("linux", v1).is_err());
        assert!(judge("linux", v2).is_err());
    }
}

//! A small, panic-free reader for the flattened device tree (DTB) the loader
//! passes in `x0` (Devicetree Specification v0.4, chapter 5).
//!
//! It replaces the `fdt` crate, which asserts ("bad node") on the Raspberry
//! Pi 4 DTB: the kernel must never panic on firmware input. Every offset and
//! length read from the blob is bounds-checked with checked arithmetic and
//! slice `get()`, and every defect comes back as an [`FdtError`] (or `None`
//! from a lookup), so the parser is safe to fuzz.
//!
//! [`Fdt::new`] validates the header *and* the whole structure block once
//! (balanced nodes, in-bounds properties, a terminating `FDT_END`, nesting
//! at most [`MAX_DEPTH`] deep), so a blob that parses is well formed and the
//! lookups never meet a defect; they still check every access defensively.
//!
//! Only what the kernel needs is here: path and `compatible` lookups, `reg`
//! decoding with the parent's cell sizes, the CPU count, the first memory
//! region, `/chosen/bootargs` and the initrd range. No `alloc`, no `unsafe`: the caller builds
//! the `&[u8]` from the DTB pointer (see [`Fdt::header_total_size`]).

use core::fmt;

/// `magic` of the header (§5.2).
const FDT_MAGIC: u32 = 0xd00d_feed;
/// Size of the version-17 header (§5.2: ten big-endian `u32`s). A
/// version-16 header lacks `size_dt_struct` (36 bytes), but the
/// memory-reservation block that follows it is 8-byte aligned (§5.6), so 40
/// bytes are always present in a real blob.
const HEADER_LEN: usize = 40;
/// Oldest `version` we read: 16 is the first with the layout of §5.2 bar
/// `size_dt_struct`, which we then derive from `totalsize`.
const MIN_VERSION: u32 = 16;
/// Newest format we understand: a blob whose `last_comp_version` is above
/// this is not backwards compatible with version 17 (§5.1).
const MAX_LAST_COMP_VERSION: u32 = 17;
/// One memory-reservation entry (§5.3: two `u64`s); the block ends with an
/// all-zero entry, so it is at least this long.
const RSV_ENTRY_LEN: usize = 16;

/// Structure-block tokens (§5.4.1).
const FDT_BEGIN_NODE: u32 = 1;
const FDT_END_NODE: u32 = 2;
const FDT_PROP: u32 = 3;
const FDT_NOP: u32 = 4;
const FDT_END: u32 = 9;

/// Deepest node nesting accepted, the root counting as one level. The
/// walkers keep each open node's `#address-cells`/`#size-cells` on a
/// fixed-size stack (no `alloc`); real trees are 4-6 levels deep.
pub const MAX_DEPTH: usize = 16;

/// Why a blob was rejected.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FdtError {
    /// The slice is shorter than the header, or than the header's
    /// `totalsize`.
    TooShort,
    /// `magic` is not 0xd00dfeed (§5.2).
    BadMagic,
    /// `version` below 16 or `last_comp_version` above 17 (§5.1); the value
    /// is the offending field.
    BadVersion(u32),
    /// A header field is inconsistent: a block outside the blob, or a
    /// `totalsize` smaller than the header.
    BadHeader(&'static str),
    /// The structure block breaks the grammar of §5.4.
    BadStructure(&'static str),
}

impl fmt::Display for FdtError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FdtError::TooShort => f.write_str("device tree blob is truncated"),
            FdtError::BadMagic => write!(f, "bad device tree magic (expected {FDT_MAGIC:#x})"),
            FdtError::BadVersion(v) => write!(f, "unsupported device tree version {v}"),
            FdtError::BadHeader(why) => write!(f, "bad device tree header: {why}"),
            FdtError::BadStructure(why) => write!(f, "bad device tree structure: {why}"),
        }
    }
}

/// Big-endian `u32` at `off` of `data`, if it lies inside.
fn be32(data: &[u8], off: usize) -> Option<u32> {
    let bytes = data.get(off..off.checked_add(4)?)?;
    Some(u32::from_be_bytes(bytes.try_into().ok()?))
}

/// Rounds `off` up to the 4-byte alignment of structure-block tokens
/// (§5.4.2), `None` on overflow.
fn align4(off: usize) -> Option<usize> {
    Some(off.checked_add(3)? & !3)
}

/// The bytes of `data` before its first NUL, `None` if there is none.
fn c_str(data: &[u8]) -> Option<&[u8]> {
    let nul = data.iter().position(|&b| b == 0)?;
    data.get(..nul)
}

/// A property name: the NUL-terminated string at `nameoff` of the strings
/// block (§5.5).
fn prop_name(strings: &[u8], nameoff: u32) -> Option<&[u8]> {
    c_str(strings.get(nameoff as usize..)?)
}

/// One structure-block token with its payload (§5.4.1).
enum Token<'a> {
    /// `FDT_BEGIN_NODE` with the node's name (unit address included).
    BeginNode(&'a [u8]),
    EndNode,
    /// `FDT_PROP`: the name's offset in the strings block, and the value.
    Prop(u32, &'a [u8]),
    Nop,
    End,
}

/// Reads the token at `*pos` of the structure block and moves `*pos` to the
/// next one. Every token advances `*pos` by at least 4, so loops over tokens
/// terminate.
fn next_token<'a>(structs: &'a [u8], pos: &mut usize) -> Result<Token<'a>, FdtError> {
    let tag = be32(structs, *pos).ok_or(FdtError::BadStructure("missing FDT_END"))?;
    let body = pos
        .checked_add(4)
        .ok_or(FdtError::BadStructure("offset overflow"))?;
    let (token, next) = match tag {
        FDT_BEGIN_NODE => {
            let rest = structs.get(body..).unwrap_or(&[]);
            let name = c_str(rest).ok_or(FdtError::BadStructure("unterminated node name"))?;
            // name.len() < rest.len(), so body + name.len() + 1 <= structs.len().
            (Token::BeginNode(name), body + name.len() + 1)
        }
        FDT_END_NODE => (Token::EndNode, body),
        FDT_PROP => {
            let truncated = FdtError::BadStructure("truncated property header");
            let len = be32(structs, body).ok_or(truncated)? as usize;
            let nameoff = be32(structs, body + 4).ok_or(truncated)?;
            // be32 succeeded at body + 4, so body + 8 <= structs.len().
            let start = body + 8;
            let value = start
                .checked_add(len)
                .and_then(|end| structs.get(start..end))
                .ok_or(FdtError::BadStructure(
                    "property value overruns the structure block",
                ))?;
            (Token::Prop(nameoff, value), start + len)
        }
        FDT_NOP => (Token::Nop, body),
        FDT_END => (Token::End, body),
        _ => return Err(FdtError::BadStructure("unknown token")),
    };
    *pos = align4(next).ok_or(FdtError::BadStructure("offset overflow"))?;
    Ok(token)
}

/// A node's `#address-cells` and `#size-cells` (§2.3.5), which govern the
/// `reg` of its children.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Cells {
    address: u32,
    size: u32,
}

impl Cells {
    /// §2.3.5: "a client program should assume a default value of 2 for
    /// #address-cells, and a value of 1 for #size-cells" when absent.
    const DEFAULT: Cells = Cells {
        address: 2,
        size: 1,
    };
}

/// A validated device tree blob.
#[derive(Clone, Copy)]
pub struct Fdt<'a> {
    /// The blob, cut to `totalsize`.
    data: &'a [u8],
    /// The structure block (§5.4).
    structs: &'a [u8],
    /// The strings block (§5.5).
    strings: &'a [u8],
}

impl fmt::Debug for Fdt<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Fdt")
            .field("total_size", &self.data.len())
            .finish()
    }
}

impl<'a> Fdt<'a> {
    /// Parses and validates `data`: the header (magic, versions, every
    /// block inside `totalsize`, `totalsize <= data.len()`; §5.1-§5.5) and
    /// the whole structure block (§5.4), so that the lookups only ever see
    /// a well-formed tree. Bytes past `totalsize` are ignored.
    pub fn new(data: &'a [u8]) -> Result<Self, FdtError> {
        let fdt = Self::from_header(data)?;
        fdt.validate_structure()?;
        Ok(fdt)
    }

    /// `totalsize` from the first 8 bytes of a header (§5.2), after checking
    /// the magic: lets the caller learn how many bytes to map or slice
    /// before calling [`Fdt::new`].
    pub fn header_total_size(header: &[u8]) -> Result<usize, FdtError> {
        let magic = be32(header, 0).ok_or(FdtError::TooShort)?;
        if magic != FDT_MAGIC {
            return Err(FdtError::BadMagic);
        }
        let total = be32(header, 4).ok_or(FdtError::TooShort)? as usize;
        if total < HEADER_LEN {
            return Err(FdtError::BadHeader("totalsize is smaller than the header"));
        }
        Ok(total)
    }

    /// The blob's `totalsize` (§5.2): how much memory it occupies.
    pub fn total_size(&self) -> usize {
        self.data.len()
    }

    /// The header checks of [`Fdt::new`], without walking the structure
    /// block (the tests use it to run the lookups on malformed trees).
    fn from_header(data: &'a [u8]) -> Result<Self, FdtError> {
        let total = Self::header_total_size(data)?;
        if data.len() < total {
            return Err(FdtError::TooShort);
        }
        let data = data.get(..total).ok_or(FdtError::TooShort)?;
        // Fields at byte offsets (§5.2); total >= HEADER_LEN, so all are inside.
        let field = |off| be32(data, off).ok_or(FdtError::TooShort);
        let off_struct = field(8)? as usize;
        let off_strings = field(12)? as usize;
        let off_rsvmap = field(16)? as usize;
        let version = field(20)?;
        let last_comp = field(24)?;
        let size_strings = field(32)? as usize;
        if version < MIN_VERSION {
            return Err(FdtError::BadVersion(version));
        }
        if last_comp > MAX_LAST_COMP_VERSION {
            return Err(FdtError::BadVersion(last_comp));
        }
        // size_dt_struct only exists from version 17 on (§5.2); before, the
        // structure block is delimited by its FDT_END alone.
        let size_struct = if version >= 17 {
            field(36)? as usize
        } else {
            total.saturating_sub(off_struct)
        };
        let block = |off: usize, size: usize, what| {
            off.checked_add(size)
                .and_then(|end| data.get(off..end))
                .ok_or(FdtError::BadHeader(what))
        };
        let structs = block(off_struct, size_struct, "structure block outside the blob")?;
        let strings = block(off_strings, size_strings, "strings block outside the blob")?;
        // The reservation map's length is only known by reading it up to
        // its terminating entry (§5.3); we do not use it, so only require
        // room for that terminator.
        block(
            off_rsvmap,
            RSV_ENTRY_LEN,
            "memory reservation block outside the blob",
        )?;
        Ok(Fdt {
            data,
            structs,
            strings,
        })
    }

    /// Checks the structure block against the grammar of §5.4.2: NOPs, one
    /// root node, then `FDT_END`; nodes balanced and at most [`MAX_DEPTH`]
    /// deep; properties inside nodes, with in-bounds values and names;
    /// node names UTF-8 (§2.2.1 allows only ASCII).
    fn validate_structure(&self) -> Result<(), FdtError> {
        let mut pos = 0;
        let mut depth = 0usize;
        let mut seen_root = false;
        loop {
            match next_token(self.structs, &mut pos)? {
                Token::BeginNode(name) => {
                    if depth == 0 && seen_root {
                        return Err(FdtError::BadStructure("more than one root node"));
                    }
                    if depth >= MAX_DEPTH {
                        return Err(FdtError::BadStructure("nodes nested too deeply"));
                    }
                    if core::str::from_utf8(name).is_err() {
                        return Err(FdtError::BadStructure("node name is not UTF-8"));
                    }
                    depth += 1;
                    seen_root = true;
                }
                Token::EndNode => {
                    depth = depth
                        .checked_sub(1)
                        .ok_or(FdtError::BadStructure("FDT_END_NODE without a node"))?;
                }
                Token::Prop(nameoff, _) => {
                    if depth == 0 {
                        return Err(FdtError::BadStructure("property outside a node"));
                    }
                    if prop_name(self.strings, nameoff).is_none() {
                        return Err(FdtError::BadStructure("bad property name offset"));
                    }
                }
                Token::Nop => {}
                Token::End => {
                    if depth != 0 {
                        return Err(FdtError::BadStructure("FDT_END inside a node"));
                    }
                    if !seen_root {
                        return Err(FdtError::BadStructure("no root node"));
                    }
                    return Ok(());
                }
            }
        }
    }

    /// All nodes in depth-first (document) order, with their depth (root 0).
    fn nodes(&self) -> Nodes<'a> {
        Nodes {
            structs: self.structs,
            strings: self.strings,
            pos: 0,
            depth: 0,
            cells: [Cells::DEFAULT; MAX_DEPTH],
            done: false,
        }
    }

    /// The node at an absolute path such as "/chosen" or "/soc/serial@7e201000"
    /// (§2.2.3). A component without '@' also matches a node name with a
    /// unit address ("/memory" finds "memory@0", §2.2.1), since the
    /// address depends on the board; the first match in document order
    /// wins. "/" is the root.
    pub fn find_node(&self, path: &str) -> Option<Node<'a>> {
        let rest = path.strip_prefix('/')?;
        let wanted = rest.split('/').filter(|c| !c.is_empty()).count();
        // Nodes come in pre-order, so the current node's ancestors are the
        // nodes last seen at each smaller depth: `matched` counts how many
        // leading components the current chain of ancestors matches.
        let mut matched = 0usize;
        for (depth, node) in self.nodes() {
            if depth == 0 {
                if wanted == 0 {
                    return Some(node);
                }
                continue;
            }
            matched = matched.min(depth - 1);
            if matched != depth - 1 {
                continue;
            }
            let Some(component) = rest.split('/').filter(|c| !c.is_empty()).nth(depth - 1) else {
                continue;
            };
            if name_matches(node.name(), component) {
                matched = depth;
                if matched == wanted {
                    return Some(node);
                }
            }
        }
        None
    }

    /// The first node in document order whose `compatible` (§2.3.1, a
    /// stringlist) contains any of `compat`.
    pub fn find_compatible(&self, compat: &[&str]) -> Option<Node<'a>> {
        self.nodes().map(|(_, node)| node).find(|node| {
            node.property("compatible").is_some_and(|list| {
                list.split(|&b| b == 0)
                    .filter(|s| !s.is_empty())
                    .any(|s| compat.iter().any(|c| c.as_bytes() == s))
            })
        })
    }

    /// How many CPUs the tree describes: the children of `/cpus` with
    /// `device_type = "cpu"` (§3.7, §3.8; `/cpus` also holds `cpu-map`
    /// and caches, which are not CPUs).
    pub fn cpu_count(&self) -> usize {
        let mut in_cpus = false;
        let mut count = 0;
        for (depth, node) in self.nodes() {
            match depth {
                1 => in_cpus = node.name() == "cpus",
                2 if in_cpus && node.property_str("device_type") == Some("cpu") => count += 1,
                _ => {}
            }
        }
        count
    }

    /// The first region (base, size) of the first node with
    /// `device_type = "memory"` that has one (§3.4), decoded with its
    /// parent's (normally the root's) cell sizes. The size may be 0: the
    /// Pi's stock DTB leaves it for the firmware to fill in.
    pub fn memory(&self) -> Option<(u64, u64)> {
        self.nodes()
            .map(|(_, node)| node)
            .filter(|node| node.property_str("device_type") == Some("memory"))
            .find_map(|node| node.reg().next())
    }

    /// `/chosen/bootargs` (§3.6), without its NUL; `None` when absent or
    /// not UTF-8.
    pub fn bootargs(&self) -> Option<&'a str> {
        self.find_node("/chosen")?.property_str("bootargs")
    }

    /// The initial ramdisk the boot loader placed in memory: `(start, end)`
    /// from `/chosen`'s `linux,initrd-start` and `linux,initrd-end` (end
    /// exclusive). Loaders write them as one or two cells (QEMU with the
    /// root's `#address-cells`, the Raspberry Pi firmware as one), so each is
    /// read by its length, 4 or 8 bytes. `None` when either is absent or of
    /// another length, or when the range is empty or reversed.
    pub fn initrd(&self) -> Option<(u64, u64)> {
        let chosen = self.find_node("/chosen")?;
        let cell = |name| {
            let value = chosen.property(name)?;
            match value.len() {
                4 | 8 => Some(read_cells(value, value.len() / 4)),
                _ => None,
            }
        };
        let (start, end) = (cell("linux,initrd-start")?, cell("linux,initrd-end")?);
        (start < end).then_some((start, end))
    }
}

/// Whether node `name` matches path `component` (§2.2.3): exactly, or, for a
/// component without a unit address, up to the '@'.
fn name_matches(name: &str, component: &str) -> bool {
    if name == component {
        return true;
    }
    !component.contains('@')
        && name
            .strip_prefix(component)
            .is_some_and(|rest| rest.starts_with('@'))
}

/// Depth-first walk over the nodes, tracking each open node's cell sizes
/// so that every yielded [`Node`] knows its parent's. Stops (yields
/// nothing more) at the first defect, which [`Fdt::new`] has ruled out.
struct Nodes<'a> {
    structs: &'a [u8],
    strings: &'a [u8],
    /// Offset of the next token.
    pos: usize,
    /// Number of open nodes.
    depth: usize,
    /// `cells[d]`: the cell sizes of the open node at depth `d`.
    cells: [Cells; MAX_DEPTH],
    done: bool,
}

impl<'a> Iterator for Nodes<'a> {
    type Item = (usize, Node<'a>);

    fn next(&mut self) -> Option<Self::Item> {
        while !self.done {
            let Ok(token) = next_token(self.structs, &mut self.pos) else {
                break;
            };
            match token {
                Token::BeginNode(name) => {
                    let depth = self.depth;
                    // Too deep for the stack (ruled out by validation): stop.
                    if depth >= MAX_DEPTH {
                        break;
                    }
                    let parent = depth
                        .checked_sub(1)
                        .and_then(|up| self.cells.get(up))
                        .copied()
                        .unwrap_or(Cells::DEFAULT);
                    let node = Node {
                        structs: self.structs,
                        strings: self.strings,
                        name: core::str::from_utf8(name).unwrap_or(""),
                        props: self.pos,
                        parent,
                    };
                    if let Some(slot) = self.cells.get_mut(depth) {
                        *slot = node.own_cells();
                    }
                    self.depth += 1;
                    return Some((depth, node));
                }
                Token::EndNode => match self.depth.checked_sub(1) {
                    Some(depth) => self.depth = depth,
                    None => break,
                },
                Token::Prop(..) | Token::Nop => {}
                Token::End => break,
            }
        }
        self.done = true;
        None
    }
}

/// A node of a validated tree: where its properties start in the structure
/// block, and its parent's cell sizes (which its `reg` is written in).
#[derive(Clone, Copy)]
pub struct Node<'a> {
    structs: &'a [u8],
    strings: &'a [u8],
    name: &'a str,
    /// Offset of the first token after `FDT_BEGIN_NODE` and the name: the
    /// node's properties come first (§5.4.2).
    props: usize,
    parent: Cells,
}

impl fmt::Debug for Node<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Node")
            .field("name", &self.name)
            .field("offset", &self.props)
            .finish()
    }
}

impl<'a> Node<'a> {
    /// The node name with its unit address, e.g. "memory@40000000" (§2.2.1);
    /// "" for the root.
    pub fn name(&self) -> &'a str {
        self.name
    }

    /// The raw value of property `name`, if the node has it (§2.2.4).
    pub fn property(&self, name: &str) -> Option<&'a [u8]> {
        let mut pos = self.props;
        // Properties precede subnodes (§5.4.2): stop at the first other token.
        loop {
            match next_token(self.structs, &mut pos).ok()? {
                Token::Prop(nameoff, value) => {
                    if prop_name(self.strings, nameoff) == Some(name.as_bytes()) {
                        return Some(value);
                    }
                }
                Token::Nop => {}
                _ => return None,
            }
        }
    }

    /// The first string of property `name` (a `<string>` or the head of a
    /// `<stringlist>`, §2.2.4.2), without its NUL; `None` when absent or not
    /// UTF-8. A value missing its NUL is taken whole.
    pub fn property_str(&self, name: &str) -> Option<&'a str> {
        let value = self.property(name)?;
        let s = c_str(value).unwrap_or(value);
        core::str::from_utf8(s).ok()
    }

    /// The `(address, size)` pairs of `reg` (§2.3.6), in the parent's
    /// `#address-cells`/`#size-cells`. Empty when `reg` is absent or the
    /// cell sizes are above 2 (not representable in `u64`) or malformed; a
    /// trailing partial entry is ignored. With `#size-cells = 0` (CPU
    /// nodes) sizes read as 0.
    pub fn reg(&self) -> Reg<'a> {
        let Cells { address, size } = self.parent;
        let supported = address <= 2 && size <= 2 && address + size > 0;
        let data = match self.property("reg") {
            Some(data) if supported => data,
            _ => &[],
        };
        // Both fit in u8: checked above (empty data otherwise, never read).
        Reg {
            data,
            address_cells: address.min(2) as u8,
            size_cells: size.min(2) as u8,
        }
    }

    /// This node's own `#address-cells`/`#size-cells` (§2.3.5), for its
    /// children. A malformed value (not one cell) becomes an unsupported
    /// size, so the children's `reg` reads as empty rather than wrong.
    fn own_cells(&self) -> Cells {
        let cells = |name, default| match self.property(name) {
            None => default,
            Some(v) if v.len() == 4 => be32(v, 0).unwrap_or(u32::MAX),
            Some(_) => u32::MAX,
        };
        Cells {
            address: cells("#address-cells", Cells::DEFAULT.address),
            size: cells("#size-cells", Cells::DEFAULT.size),
        }
    }
}

/// Iterator over a node's `reg` entries; see [`Node::reg`].
#[derive(Clone, Debug)]
pub struct Reg<'a> {
    /// The entries not yet read.
    data: &'a [u8],
    address_cells: u8,
    size_cells: u8,
}

/// A big-endian number of `cells` (0..=2) 32-bit cells (§2.2.4.1).
fn read_cells(data: &[u8], cells: usize) -> u64 {
    (0..cells).fold(0, |acc, i| {
        (acc << 32) | u64::from(be32(data, i * 4).unwrap_or(0))
    })
}

impl Iterator for Reg<'_> {
    type Item = (u64, u64);

    fn next(&mut self) -> Option<(u64, u64)> {
        let address_len = usize::from(self.address_cells) * 4;
        let entry_len = address_len + usize::from(self.size_cells) * 4;
        if entry_len == 0 {
            return None;
        }
        let entry = self.data.get(..entry_len)?;
        self.data = self.data.get(entry_len..)?;
        let address = read_cells(entry, usize::from(self.address_cells));
        let size = read_cells(entry.get(address_len..)?, usize::from(self.size_cells));
        Some((address, size))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::string::String;
    use std::vec::Vec;

    /// Builds a DTB token by token, laid out like dtc's output: header,
    /// empty reservation map, structure block, strings block.
    #[derive(Default)]
    struct Builder {
        structs: Vec<u8>,
        strings: Vec<u8>,
    }

    impl Builder {
        fn token(&mut self, t: u32) -> &mut Self {
            self.structs.extend_from_slice(&t.to_be_bytes());
            self
        }

        fn pad(&mut self) {
            while !self.structs.len().is_multiple_of(4) {
                self.structs.push(0);
            }
        }

        fn begin(&mut self, name: &str) -> &mut Self {
            self.token(FDT_BEGIN_NODE);
            self.structs.extend_from_slice(name.as_bytes());
            self.structs.push(0);
            self.pad();
            self
        }

        fn end(&mut self) -> &mut Self {
            self.token(FDT_END_NODE)
        }

        fn name_offset(&mut self, name: &str) -> u32 {
            let mut needle = Vec::from(name.as_bytes());
            needle.push(0);
            if let Some(i) = self.strings.windows(needle.len()).position(|w| w == needle) {
                return i as u32;
            }
            let off = self.strings.len() as u32;
            self.strings.extend_from_slice(&needle);
            off
        }

        fn prop(&mut self, name: &str, value: &[u8]) -> &mut Self {
            let off = self.name_offset(name);
            self.token(FDT_PROP).token(value.len() as u32).token(off);
            self.structs.extend_from_slice(value);
            self.pad();
            self
        }

        fn prop_u32s(&mut self, name: &str, cells: &[u32]) -> &mut Self {
            let value: Vec<u8> = cells.iter().flat_map(|c| c.to_be_bytes()).collect();
            self.prop(name, &value)
        }

        fn prop_str(&mut self, name: &str, s: &str) -> &mut Self {
            let mut value = Vec::from(s.as_bytes());
            value.push(0);
            self.prop(name, &value)
        }

        /// The blob, with FDT_END appended.
        fn finish(&mut self) -> Vec<u8> {
            self.token(FDT_END);
            self.finish_raw()
        }

        /// The blob with the structure block exactly as built.
        fn finish_raw(&self) -> Vec<u8> {
            let off_rsvmap = HEADER_LEN;
            let off_struct = off_rsvmap + RSV_ENTRY_LEN;
            let off_strings = off_struct + self.structs.len();
            let total = off_strings + self.strings.len();
            let header = [
                FDT_MAGIC,
                total as u32,
                off_struct as u32,
                off_strings as u32,
                off_rsvmap as u32,
                17,
                16,
                0,
                self.strings.len() as u32,
                self.structs.len() as u32,
            ];
            let mut blob: Vec<u8> = header.iter().flat_map(|f| f.to_be_bytes()).collect();
            blob.extend_from_slice(&[0; RSV_ENTRY_LEN]);
            blob.extend_from_slice(&self.structs);
            blob.extend_from_slice(&self.strings);
            blob
        }
    }

    fn set_u32(blob: &mut [u8], off: usize, value: u32) {
        blob[off..off + 4].copy_from_slice(&value.to_be_bytes());
    }

    /// Like QEMU's `virt` machine: 2/2 cells at the root.
    fn virt_like() -> Vec<u8> {
        let mut b = Builder::default();
        b.begin("")
            .prop_u32s("#address-cells", &[2])
            .prop_u32s("#size-cells", &[2])
            .prop_str("compatible", "linux,dummy-virt");
        b.begin("psci")
            .prop("compatible", b"arm,psci-1.0\0arm,psci-0.2\0arm,psci\0")
            .prop_str("method", "hvc")
            .end();
        b.begin("memory@40000000")
            .prop_str("device_type", "memory")
            .prop_u32s("reg", &[0, 0x4000_0000, 0, 0x1000_0000])
            .end();
        b.begin("intc@8000000")
            .prop_u32s("#interrupt-cells", &[3])
            .token(FDT_NOP)
            .prop("compatible", b"arm,cortex-a15-gic\0")
            .prop_u32s(
                "reg",
                &[0, 0x0800_0000, 0, 0x1_0000, 0, 0x0801_0000, 0, 0x1_0000],
            )
            .end();
        b.begin("cpus")
            .prop_u32s("#address-cells", &[1])
            .prop_u32s("#size-cells", &[0]);
        b.begin("cpu-map")
            .begin("cluster0")
            .begin("core0")
            .end()
            .end()
            .end();
        for i in 0..4 {
            b.begin(&format!("cpu@{i}"))
                .prop_str("device_type", "cpu")
                .prop_str("compatible", "arm,cortex-a72")
                .prop_u32s("reg", &[i])
                .end();
        }
        b.end();
        b.begin("chosen")
            .prop_str("bootargs", "loglevel=7 -- app arg")
            .end();
        b.end();
        b.finish()
    }

    /// Like the Pi 4: 2/1 cells at the root, the GIC under /soc with 1/1.
    fn pi_like() -> Vec<u8> {
        let mut b = Builder::default();
        b.begin("")
            .prop_u32s("#address-cells", &[2])
            .prop_u32s("#size-cells", &[1])
            .prop_str("compatible", "raspberrypi,4-model-b");
        b.begin("soc")
            .prop_str("compatible", "simple-bus")
            .prop_u32s("#address-cells", &[1])
            .prop_u32s("#size-cells", &[1])
            .prop_u32s("ranges", &[0x7e00_0000, 0, 0xfe00_0000, 0x0180_0000]);
        b.begin("interrupt-controller@40041000")
            .prop_str("compatible", "arm,gic-400")
            .prop_u32s("reg", &[0x4004_1000, 0x1000, 0x4004_2000, 0x2000])
            .end();
        b.end();
        b.begin("cpus")
            .prop_u32s("#address-cells", &[1])
            .prop_u32s("#size-cells", &[0]);
        for i in 0..4 {
            b.begin(&format!("cpu@{i}"))
                .prop_str("device_type", "cpu")
                .prop_u32s("reg", &[i])
                .end();
        }
        b.begin("l2-cache0").prop_str("compatible", "cache").end();
        b.end();
        b.begin("memory@0")
            .prop_str("device_type", "memory")
            .prop_u32s("reg", &[0, 0, 0x3b40_0000])
            .end();
        b.begin("chosen").end();
        b.end();
        b.finish()
    }

    #[test]
    fn virt_tree() {
        let blob = virt_like();
        let fdt = Fdt::new(&blob).unwrap();
        assert_eq!(fdt.total_size(), blob.len());
        assert_eq!(Fdt::header_total_size(&blob[..8]), Ok(blob.len()));
        assert_eq!(fdt.memory(), Some((0x4000_0000, 0x1000_0000)));
        assert_eq!(fdt.bootargs(), Some("loglevel=7 -- app arg"));
        assert_eq!(fdt.cpu_count(), 4);
        let psci = fdt.find_node("/psci").unwrap();
        assert_eq!(psci.name(), "psci");
        assert_eq!(psci.property_str("method"), Some("hvc"));
        assert_eq!(psci.property_str("compatible"), Some("arm,psci-1.0"));
        assert_eq!(psci.property("nonexistent"), None);
        let gic = fdt
            .find_compatible(&["arm,gic-v3", "arm,cortex-a15-gic"])
            .unwrap();
        assert_eq!(gic.name(), "intc@8000000");
        let reg: Vec<_> = gic.reg().collect();
        assert_eq!(reg, [(0x0800_0000, 0x1_0000), (0x0801_0000, 0x1_0000)]);
        assert_eq!(gic.property("#interrupt-cells"), Some(&[0, 0, 0, 3][..]));
        // Later strings of a stringlist match too.
        assert_eq!(fdt.find_compatible(&["arm,psci"]).unwrap().name(), "psci");
        assert!(fdt.find_compatible(&["arm,gic-400"]).is_none());
        assert!(fdt.find_compatible(&[""]).is_none());
        // Path forms.
        assert_eq!(fdt.find_node("/").unwrap().name(), "");
        assert_eq!(fdt.find_node("/memory").unwrap().name(), "memory@40000000");
        assert!(fdt.find_node("/memory@40000000").is_some());
        assert!(fdt.find_node("/memory@0").is_none());
        assert!(fdt.find_node("/mem").is_none());
        assert!(fdt.find_node("memory").is_none());
        assert!(fdt.find_node("/chosen/").is_some());
        assert_eq!(
            fdt.find_node("/cpus/cpu@2")
                .unwrap()
                .reg()
                .collect::<Vec<_>>(),
            [(2, 0)]
        );
        assert!(fdt.find_node("/cpus/cpu-map/cluster0/core0").is_some());
        // Not found under another parent of the same depth.
        assert!(fdt.find_node("/psci/cpu@0").is_none());
        assert!(fdt.find_node("/cpu@0").is_none());
        assert!(fdt.find_node("/cpus/cpu@4").is_none());
    }

    #[test]
    fn pi_tree() {
        let blob = pi_like();
        let fdt = Fdt::new(&blob).unwrap();
        assert_eq!(fdt.memory(), Some((0, 0x3b40_0000)));
        assert_eq!(fdt.cpu_count(), 4);
        assert_eq!(fdt.bootargs(), None);
        let gic = fdt.find_compatible(&["arm,gic-400"]).unwrap();
        // Decoded with /soc's 1/1 cells, not the root's 2/1.
        assert_eq!(
            gic.reg().collect::<Vec<_>>(),
            [(0x4004_1000, 0x1000), (0x4004_2000, 0x2000)]
        );
        let soc = fdt.find_node("/soc").unwrap();
        assert_eq!(soc.property("ranges").map(<[u8]>::len), Some(16));
        assert_eq!(
            fdt.find_node("/soc/interrupt-controller").unwrap().name(),
            "interrupt-controller@40041000"
        );
    }

    #[test]
    fn reg_cell_sizes() {
        let mut b = Builder::default();
        b.begin("").prop_u32s("#address-cells", &[3]);
        b.begin("pci").prop_u32s("reg", &[1, 2, 3, 4]).end();
        b.begin("bus")
            .prop_u32s("#address-cells", &[1, 1])
            .prop_u32s("#size-cells", &[0]);
        b.begin("dev").prop_u32s("reg", &[5]).end();
        b.end();
        b.begin("zero")
            .prop_u32s("#address-cells", &[0])
            .prop_u32s("#size-cells", &[0]);
        b.begin("dev").prop_u32s("reg", &[5]).end();
        b.end();
        b.begin("partial")
            .prop_u32s("#address-cells", &[1])
            .prop_u32s("#size-cells", &[1]);
        b.begin("dev").prop_u32s("reg", &[1, 2, 3]).end();
        b.end();
        b.end();
        let blob = b.finish();
        let fdt = Fdt::new(&blob).unwrap();
        let reg = |path| fdt.find_node(path).unwrap().reg().collect::<Vec<_>>();
        assert_eq!(reg("/pci"), []); // 3 address cells: unsupported
        assert_eq!(reg("/bus/dev"), []); // malformed #address-cells
        assert_eq!(reg("/zero/dev"), []); // no cells at all
        assert_eq!(reg("/partial/dev"), [(1, 2)]); // trailing partial entry dropped
        assert_eq!(fdt.memory(), None);
        assert_eq!(fdt.cpu_count(), 0);
    }

    #[test]
    fn bootargs_edge_cases() {
        let with = |value: &[u8]| {
            let mut b = Builder::default();
            b.begin("")
                .begin("chosen")
                .prop("bootargs", value)
                .end()
                .end();
            b.finish()
        };
        let blob = with(b"");
        assert_eq!(Fdt::new(&blob).unwrap().bootargs(), Some(""));
        let blob = with(b"\0");
        assert_eq!(Fdt::new(&blob).unwrap().bootargs(), Some(""));
        let blob = with(b"no-nul");
        assert_eq!(Fdt::new(&blob).unwrap().bootargs(), Some("no-nul"));
        let blob = with(b"\xff\xfe\0");
        assert_eq!(Fdt::new(&blob).unwrap().bootargs(), None);
    }

    #[test]
    fn initrd_in_one_or_two_cells() {
        let with = |props: &[(&str, &[u32])]| {
            let mut b = Builder::default();
            b.begin("").begin("chosen");
            for (name, cells) in props {
                b.prop_u32s(name, cells);
            }
            b.end().end();
            b.finish()
        };
        let initrd = |blob: &[u8]| Fdt::new(blob).unwrap().initrd();
        // QEMU virt: two cells each.
        let blob = with(&[
            ("linux,initrd-start", &[0, 0x4800_0000]),
            ("linux,initrd-end", &[0, 0x4801_2345]),
        ]);
        assert_eq!(initrd(&blob), Some((0x4800_0000, 0x4801_2345)));
        // The Pi firmware: one cell each.
        let blob = with(&[
            ("linux,initrd-start", &[0x0280_0000]),
            ("linux,initrd-end", &[0x0281_0000]),
        ]);
        assert_eq!(initrd(&blob), Some((0x0280_0000, 0x0281_0000)));
        // Mixed widths, and an address above 4 GiB.
        let blob = with(&[
            ("linux,initrd-start", &[0x1000]),
            ("linux,initrd-end", &[1, 0]),
        ]);
        assert_eq!(initrd(&blob), Some((0x1000, 0x1_0000_0000)));
        // Missing half, empty or reversed range, odd lengths: none.
        let blob = with(&[("linux,initrd-start", &[0x1000])]);
        assert_eq!(initrd(&blob), None);
        let blob = with(&[("linux,initrd-end", &[0x1000])]);
        assert_eq!(initrd(&blob), None);
        let blob = with(&[
            ("linux,initrd-start", &[0x2000]),
            ("linux,initrd-end", &[0x2000]),
        ]);
        assert_eq!(initrd(&blob), None);
        let blob = with(&[
            ("linux,initrd-start", &[0x3000]),
            ("linux,initrd-end", &[0x2000]),
        ]);
        assert_eq!(initrd(&blob), None);
        let blob = with(&[
            ("linux,initrd-start", &[0, 0, 0x1000]),
            ("linux,initrd-end", &[0x2000]),
        ]);
        assert_eq!(initrd(&blob), None);
        assert_eq!(initrd(&virt_like()), None);
        assert_eq!(initrd(&pi_like()), None);
    }

    #[test]
    fn header_errors() {
        let blob = virt_like();
        assert_eq!(Fdt::new(&[]).unwrap_err(), FdtError::TooShort);
        assert_eq!(Fdt::header_total_size(&blob[..7]), Err(FdtError::TooShort));
        let mut bad = blob.clone();
        bad[0] = 0xd1;
        assert_eq!(Fdt::new(&bad).unwrap_err(), FdtError::BadMagic);
        assert_eq!(Fdt::header_total_size(&bad), Err(FdtError::BadMagic));
        // Truncated blob, and totalsize beyond the slice.
        assert_eq!(
            Fdt::new(&blob[..blob.len() - 1]).unwrap_err(),
            FdtError::TooShort
        );
        let mut bad = blob.clone();
        set_u32(&mut bad, 4, blob.len() as u32 + 1);
        assert_eq!(Fdt::new(&bad).unwrap_err(), FdtError::TooShort);
        let mut bad = blob.clone();
        set_u32(&mut bad, 4, 39);
        assert!(matches!(Fdt::new(&bad), Err(FdtError::BadHeader(_))));
        // Trailing bytes past totalsize are ignored.
        let mut long = blob.clone();
        long.extend_from_slice(&[0xff; 64]);
        assert_eq!(Fdt::new(&long).unwrap().total_size(), blob.len());
        // Blocks out of bounds.
        for (field, value) in [
            (8, blob.len() as u32 + 4),
            (8, u32::MAX),
            (36, u32::MAX),
            (12, blob.len() as u32),
            (32, u32::MAX),
            (16, blob.len() as u32 - 8),
        ] {
            let mut bad = blob.clone();
            set_u32(&mut bad, field, value);
            assert!(
                matches!(Fdt::new(&bad), Err(FdtError::BadHeader(_))),
                "{field}"
            );
        }
        // Versions.
        let mut bad = blob.clone();
        set_u32(&mut bad, 20, 15);
        assert_eq!(Fdt::new(&bad).unwrap_err(), FdtError::BadVersion(15));
        let mut bad = blob.clone();
        set_u32(&mut bad, 24, 18);
        assert_eq!(Fdt::new(&bad).unwrap_err(), FdtError::BadVersion(18));
        // Version 16: no size_dt_struct, the block runs to totalsize.
        let mut v16 = blob.clone();
        set_u32(&mut v16, 20, 16);
        set_u32(&mut v16, 36, 0);
        assert_eq!(Fdt::new(&v16).unwrap().cpu_count(), 4);
    }

    fn structure_error(b: &Builder) -> FdtError {
        match Fdt::new(&b.finish_raw()) {
            Err(FdtError::BadStructure(why)) => FdtError::BadStructure(why),
            other => panic!("expected a structure error, got {other:?}"),
        }
    }

    #[test]
    fn structure_errors() {
        let bad = |why| FdtError::BadStructure(why);
        // Missing FDT_END.
        let mut b = Builder::default();
        b.begin("").end();
        assert_eq!(structure_error(&b), bad("missing FDT_END"));
        // Unterminated name: the NUL search must stop at the block's end
        // (the strings block after it holds NULs).
        let mut b = Builder::default();
        b.prop_str("x", "");
        b.structs.clear();
        b.token(FDT_BEGIN_NODE);
        b.structs.extend_from_slice(b"abcd");
        assert_eq!(structure_error(&b), bad("unterminated node name"));
        // Property length overflowing the block (and usize arithmetic).
        for len in [13, 0x1000, u32::MAX - 3, u32::MAX] {
            let mut b = Builder::default();
            b.begin("").prop("p", &[0; 4]).end().token(FDT_END);
            set_u32(&mut b.structs, 12, len);
            assert_eq!(
                structure_error(&b),
                bad("property value overruns the structure block")
            );
        }
        // Property header cut short.
        let mut b = Builder::default();
        b.begin("").token(FDT_PROP).token(0);
        assert_eq!(structure_error(&b), bad("truncated property header"));
        // Bad name offset.
        let mut b = Builder::default();
        b.begin("").prop("p", &[]).end().token(FDT_END);
        set_u32(&mut b.structs, 16, 2);
        assert_eq!(structure_error(&b), bad("bad property name offset"));
        // Nesting one level too deep, and exactly deep enough.
        let nested = |levels: usize| {
            let mut b = Builder::default();
            for _ in 0..levels {
                b.begin("n");
            }
            for _ in 0..levels {
                b.end();
            }
            b.token(FDT_END);
            b
        };
        assert_eq!(
            structure_error(&nested(MAX_DEPTH + 1)),
            bad("nodes nested too deeply")
        );
        let deepest = nested(MAX_DEPTH).finish_raw();
        let path = "/n".repeat(MAX_DEPTH - 1);
        assert!(Fdt::new(&deepest).unwrap().find_node(&path).is_some());
        // Grammar.
        let mut b = Builder::default();
        b.begin("").token(FDT_END);
        assert_eq!(structure_error(&b), bad("FDT_END inside a node"));
        let mut b = Builder::default();
        b.begin("").end().end().token(FDT_END);
        assert_eq!(structure_error(&b), bad("FDT_END_NODE without a node"));
        let mut b = Builder::default();
        b.begin("").end().begin("").end().token(FDT_END);
        assert_eq!(structure_error(&b), bad("more than one root node"));
        let mut b = Builder::default();
        b.prop("p", &[]).begin("").end().token(FDT_END);
        assert_eq!(structure_error(&b), bad("property outside a node"));
        let mut b = Builder::default();
        b.token(FDT_NOP).token(FDT_END);
        assert_eq!(structure_error(&b), bad("no root node"));
        let mut b = Builder::default();
        b.begin("").token(7).end().token(FDT_END);
        assert_eq!(structure_error(&b), bad("unknown token"));
        let mut b = Builder::default();
        b.token(FDT_BEGIN_NODE);
        b.structs.extend_from_slice(b"\xff\0\0\0");
        b.end().token(FDT_END);
        assert_eq!(structure_error(&b), bad("node name is not UTF-8"));
        // NOPs anywhere are fine.
        let mut b = Builder::default();
        b.token(FDT_NOP)
            .begin("")
            .token(FDT_NOP)
            .end()
            .token(FDT_NOP)
            .token(FDT_END);
        assert!(Fdt::new(&b.finish_raw()).is_ok());
    }

    #[test]
    fn error_display() {
        let text = |e: FdtError| {
            use std::fmt::Write;
            let mut s = String::new();
            write!(s, "{e}").unwrap();
            s
        };
        assert_eq!(
            text(FdtError::BadMagic),
            "bad device tree magic (expected 0xd00dfeed)"
        );
        assert_eq!(
            text(FdtError::BadVersion(3)),
            "unsupported device tree version 3"
        );
        assert!(text(FdtError::BadStructure("x")).ends_with(": x"));
        assert!(text(FdtError::BadHeader("y")).ends_with(": y"));
        assert!(!text(FdtError::TooShort).is_empty());
    }

    /// Runs every lookup on `fdt`; the results do not matter, only that
    /// nothing panics.
    fn exercise(fdt: &Fdt<'_>) {
        let _ = fdt.total_size();
        let _ = fdt.cpu_count();
        let _ = fdt.memory();
        let _ = fdt.bootargs();
        for path in [
            "/",
            "/chosen",
            "/psci",
            "/memory",
            "/cpus/cpu@1",
            "/soc/interrupt-controller",
        ] {
            if let Some(node) = fdt.find_node(path) {
                let _ = node.name();
                let _ = node.property("reg");
                let _ = node.property_str("compatible");
                let _ = node.reg().count();
            }
        }
        if let Some(node) = fdt.find_compatible(&["arm,cortex-a15-gic", "arm,gic-400", "cache"]) {
            let _ = node.reg().count();
        }
        for (_, node) in fdt.nodes() {
            let _ = node.reg().count();
            let _ = node.property_str("device_type");
        }
    }

    /// Every entry point on `blob`, both through the validating
    /// constructor and on the raw header-checked tree (so the lookups also
    /// meet malformed structure blocks).
    fn run_all(blob: &[u8]) {
        let _ = Fdt::header_total_size(blob);
        if let Ok(fdt) = Fdt::new(blob) {
            exercise(&fdt);
        }
        if let Ok(fdt) = Fdt::from_header(blob) {
            exercise(&fdt);
        }
    }

    #[test]
    fn never_panics() {
        for blob in [virt_like(), pi_like()] {
            for len in 0..=blob.len() {
                run_all(&blob[..len]);
            }
            // Deterministic xorshift: single-byte corruptions anywhere,
            // biased towards small values and the header.
            let mut state = 0x2545_f491_4f6c_dd1d_u64;
            let mut rand = || {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                state
            };
            let mut copy = blob.clone();
            for _ in 0..5000 {
                let r = rand();
                let at = if r & 3 == 0 {
                    (r >> 8) as usize % 40
                } else {
                    (r >> 8) as usize % blob.len()
                };
                let value = match (r >> 4) & 3 {
                    0 => 0,
                    1 => 0xff,
                    2 => (r >> 40) as u8 & 0x1f,
                    _ => (r >> 48) as u8,
                };
                copy[at] = value;
                run_all(&copy);
                copy[at] = blob[at];
            }
        }
    }

    /// Checks a real DTB from a file, if present (not committed: they are
    /// binaries); skipped otherwise.
    fn real_dtb(path: &str) -> Option<Vec<u8>> {
        let blob = std::fs::read(path).ok()?;
        // Truncations of a real blob must fail cleanly too.
        for len in (0..blob.len()).step_by(61) {
            run_all(&blob[..len]);
        }
        Some(blob)
    }

    #[test]
    fn raspberry_pi_4_dtb() {
        let path = "/tmp/rpi/k/usr/lib/linux-image-6.1.0-56-arm64/broadcom/bcm2711-rpi-4-b.dtb";
        let Some(blob) = real_dtb(path) else { return };
        let fdt = Fdt::new(&blob).unwrap();
        assert_eq!(fdt.cpu_count(), 4);
        let gic = fdt.find_compatible(&["arm,gic-400"]).unwrap();
        assert_eq!(gic.reg().count(), 4);
        assert_eq!(gic.reg().next(), Some((0x40041000, 0x1000)));
        // The stock DTB leaves memory@0's size to the firmware.
        assert_eq!(fdt.memory().map(|(base, _)| base), Some(0));
        assert_eq!(fdt.find_node("/memory").unwrap().name(), "memory@0");
        assert!(fdt.find_node("/chosen").is_some());
        // Mainline's Pi 4 DTB starts secondaries by spin table, not PSCI.
        assert!(fdt.find_node("/psci").is_none());
    }

    #[test]
    fn qemu_virt_dtb() {
        // qemu-system-aarch64 -M virt,dumpdtb=/tmp/virt.dtb -cpu cortex-a72 -smp 4 -m 256M
        let Some(blob) = real_dtb("/tmp/virt.dtb") else {
            return;
        };
        let fdt = Fdt::new(&blob).unwrap();
        assert_eq!(fdt.cpu_count(), 4);
        assert_eq!(fdt.memory(), Some((0x4000_0000, 256 << 20)));
        let gic = fdt.find_compatible(&["arm,cortex-a15-gic"]).unwrap();
        assert_eq!(gic.reg().next(), Some((0x0800_0000, 0x1_0000)));
        let psci = fdt.find_node("/psci").unwrap();
        assert_eq!(psci.property_str("method"), Some("hvc"));
        assert!(fdt.find_node("/chosen").is_some());
    }
}

//! Fill-reducing orderings of the Helmholtz matrix graph.
//!
//! Eliminating the unknowns of a sparse symmetric matrix in the order π fills L with
//! nnz(L) = Σ_j (c_j + 1) entries and costs Σ_j c_j² multiply–adds, c_j being the number of
//! off-diagonal nonzeros of column j of L. Nested dissection — split the graph by a small vertex
//! separator, order both halves recursively, the separator last — gives O(n log n) fill and
//! O(n^{3/2}) work on a 2-D grid. [`metis_nested_dissection`] calls METIS 5 `NodeND` (multilevel
//! separators, seed 0: deterministic); the line dissection of [`super::symmetric::nested_dissection`]
//! needs no graph partitioner but fills about 1.4× more.

use faer::sparse::SymbolicSparseColMat;
use metis_sys::{
    METIS_NOPTIONS, METIS_NodeND, METIS_SetDefaultOptions, idx_t,
    moptions_et_METIS_OPTION_NUMBERING, moptions_et_METIS_OPTION_SEED, rstatus_et_METIS_OK,
};

/// METIS nested-dissection ordering of a structurally symmetric pattern, postordered
/// ([`postordered`]): `perm[new] = old`.
///
/// The diagonal is ignored; the graph has an edge (r, c) for every stored off-diagonal entry.
/// Errors when the graph is too large for METIS's 32-bit indices or METIS reports a failure.
pub fn metis_nested_dissection(
    pattern: &SymbolicSparseColMat<usize>,
) -> Result<Vec<usize>, String> {
    let n = pattern.ncols();
    if n == 0 {
        return Ok(Vec::new());
    }
    let too_big = || format!("graph of {n} vertices is too large for METIS's 32-bit indices");
    let mut xadj: Vec<idx_t> = Vec::with_capacity(n + 1);
    let mut adjncy: Vec<idx_t> = Vec::with_capacity(pattern.row_idx().len());
    xadj.push(0);
    for c in 0..n {
        for &r in &pattern.row_idx()[pattern.col_range(c)] {
            if r != c {
                adjncy.push(idx_t::try_from(r).map_err(|_| too_big())?);
            }
        }
        xadj.push(idx_t::try_from(adjncy.len()).map_err(|_| too_big())?);
    }
    let mut nvtxs = idx_t::try_from(n).map_err(|_| too_big())?;
    let mut options = [0 as idx_t; METIS_NOPTIONS as usize];
    let mut perm = vec![0 as idx_t; n];
    let mut iperm = vec![0 as idx_t; n];
    // METIS's random number generator is process-global state: concurrent calls (threads of a
    // test run or of a driver) would interleave its draws and make the ordering depend on
    // timing. One call at a time keeps it a function of the graph and the seed.
    static METIS_LOCK: std::sync::Mutex<()> = std::sync::Mutex::new(());
    let _guard = METIS_LOCK.lock().unwrap_or_else(|e| e.into_inner());
    // SAFETY: every pointer refers to a live buffer of the length METIS reads or writes
    // (options: METIS_NOPTIONS; xadj: n + 1; adjncy: xadj[n]; perm, iperm: n); vwgt is null
    // (unit weights), which METIS accepts.
    let status = unsafe {
        METIS_SetDefaultOptions(options.as_mut_ptr());
        options[moptions_et_METIS_OPTION_NUMBERING as usize] = 0;
        options[moptions_et_METIS_OPTION_SEED as usize] = 0;
        METIS_NodeND(
            &mut nvtxs,
            xadj.as_mut_ptr(),
            adjncy.as_mut_ptr(),
            std::ptr::null_mut(),
            options.as_mut_ptr(),
            perm.as_mut_ptr(),
            iperm.as_mut_ptr(),
        )
    };
    if status != rstatus_et_METIS_OK {
        return Err(format!("METIS_NodeND failed with status {status}"));
    }
    let perm: Vec<usize> = perm.into_iter().map(|p| p as usize).collect();
    // METIS returns perm[new] = old; check it is a permutation before anyone indexes with it.
    let mut seen = vec![false; n];
    for &p in &perm {
        if p >= n || std::mem::replace(&mut seen[p], true) {
            return Err("METIS_NodeND returned an invalid permutation".into());
        }
    }
    Ok(postordered(pattern, &perm))
}

/// The inverse of a permutation given as `perm[new] = old`.
pub fn inverse(perm: &[usize]) -> Vec<usize> {
    let mut inv = vec![0; perm.len()];
    for (new, &old) in perm.iter().enumerate() {
        inv[old] = new;
    }
    inv
}

/// The same elimination, reordered so that the elimination tree of the permuted matrix is
/// postordered (every subtree a contiguous range, each parent right after its last child).
///
/// The fill and the flops do not change, but the columns of a chain (a separator, a
/// minimum-degree leaf) become adjacent, so the supernodal analysis can merge them into wide
/// supernodes; METIS's orderings of its leaf subgraphs are not postordered.
pub fn postordered(pattern: &SymbolicSparseColMat<usize>, perm: &[usize]) -> Vec<usize> {
    let n = perm.len();
    let inv = inverse(perm);
    let rows = pattern.row_idx();
    // Elimination tree of P M Pᵀ (Liu's algorithm with path compression).
    const NONE: usize = usize::MAX;
    let mut parent = vec![NONE; n];
    let mut ancestor = vec![NONE; n];
    for k in 0..n {
        for &r in &rows[pattern.col_range(perm[k])] {
            let mut i = inv[r];
            while i < k {
                let next = ancestor[i];
                ancestor[i] = k;
                if next == NONE {
                    parent[i] = k;
                    break;
                }
                i = next;
            }
        }
    }
    // Children lists in increasing order, then a depth-first postorder from each root.
    let mut head = vec![NONE; n];
    let mut next = vec![NONE; n];
    for k in (0..n).rev() {
        if parent[k] != NONE {
            next[k] = head[parent[k]];
            head[parent[k]] = k;
        }
    }
    let mut out = Vec::with_capacity(n);
    let mut stack = Vec::new();
    for root in (0..n).filter(|&k| parent[k] == NONE) {
        stack.push(root);
        while let Some(&top) = stack.last() {
            let child = head[top];
            if child == NONE {
                stack.pop();
                out.push(perm[top]);
            } else {
                head[top] = next[child];
                stack.push(child);
            }
        }
    }
    out
}

//! The task tree: every task of a run, nested by parent, with the scopes each waits in.
//!
//! Tasks are found in the run's registry; where each waits is found in the scope tree. A
//! task that blocks stores its waker in the node of every scope it waits beneath, and a
//! task's waker is its own (its data pointer is the task), so walking the tree from its
//! root tells, for every linked node, which task waits there: the scopes of a task are the
//! nodes from its own node down to where the next task begins.

use std::collections::HashMap;
use std::fmt::Write;
use std::sync::Arc;
use std::time::Instant;

use crate::cancel::tree::ScopeNode;
use crate::context;
use crate::task::{RunContext, TaskCore};

/// Describes every task of the current run as a tree: each task with its name, id and
/// state, nested under its parent, and under it the cancel scopes it waits in, innermost
/// last, each with its deadline, shield and cancellation.
///
/// The same text ends the failure message of an `#[anyio::test]` that runs past its
/// timeout. Call it from a task that watches the others (on a signal, from a debug
/// endpoint) to see where a program hangs.
///
/// A scope is listed once a task has blocked beneath it (scopes are linked into the tree
/// lazily): a task that never blocked, or that waits in a foreign future outside any
/// scope of its own, shows with its own line only. A task is *runnable* when it was woken
/// (or is being polled) since it last blocked; its scopes are then those of its last wait.
///
/// Outside any anyio task, the tasks of the backend's native context are listed without
/// their scopes (the root of their tree is not known there); with no backend, the text
/// says so.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
///
/// # anyio::run(|| async {
/// anyio::task_group(|tg| async move {
///     tg.task().name("ticker").spawn(anyio::move_on_after(Duration::from_secs(60), anyio::sleep_forever()))?;
///     anyio::testing::wait_all_tasks_blocked().await?;
///     let tree = anyio::testing::dump_task_tree();
///     assert!(tree.contains("'ticker'"), "{tree}");
///     assert!(tree.contains("deadline in"), "{tree}");
///     tg.cancel_scope().cancel();
///     Ok(())
/// })
/// .await?;
/// # Ok::<_, anyio::Error>(())
/// # }).unwrap();
/// ```
pub fn dump_task_tree() -> String {
    let Some(run) = RunContext::current() else {
        return "task tree: no anyio run or backend here\n".to_owned();
    };
    let root = context::current_scope().map(|n| n.root());
    render(&run, root.as_ref())
}

/// One scope of a task, as the dump shows it.
struct ScopeLine {
    depth: usize,
    node: Arc<ScopeNode>,
}

/// The tree of `run`, its scopes read from the tree rooted at `root`.
pub(crate) fn render(run: &RunContext, root: Option<&Arc<ScopeNode>>) -> String {
    let mut tasks = run.tasks();
    tasks.sort_by_key(|t| t.id);
    let by_ptr: HashMap<usize, usize> = tasks
        .iter()
        .enumerate()
        .map(|(i, t)| (Arc::as_ptr(t) as *const () as usize, i))
        .collect();
    let mut scopes: Vec<Vec<ScopeLine>> = tasks.iter().map(|_| Vec::new()).collect();
    if let Some(root) = root {
        collect(root, &by_ptr, &mut scopes);
    }
    let now = run.clock.as_ref().map_or_else(Instant::now, |c| c.now());
    let mut out = String::new();
    let clock = if run.clock.is_some() {
        ", virtual time"
    } else {
        ""
    };
    let _ = writeln!(
        out,
        "task tree ({} task{}{clock}):",
        tasks.len(),
        if tasks.len() == 1 { "" } else { "s" }
    );
    let ids: HashMap<u64, usize> = tasks.iter().enumerate().map(|(i, t)| (t.id, i)).collect();
    let mut children: Vec<Vec<usize>> = tasks.iter().map(|_| Vec::new()).collect();
    let mut tops = Vec::new();
    for (i, t) in tasks.iter().enumerate() {
        match t.info().parent_id.and_then(|p| ids.get(&p)) {
            Some(&p) if p != i => children[p].push(i),
            _ => tops.push(i),
        }
    }
    let view = View {
        tasks: &tasks,
        scopes: &scopes,
        children: &children,
        now,
    };
    for top in tops {
        view.task(&mut out, top, 1);
    }
    out
}

/// Walks the tree from `root`, giving each node to the task whose waker it holds, or to
/// the task of its parent node when it holds none of a task's (a combinator's waker).
fn collect(root: &Arc<ScopeNode>, by_ptr: &HashMap<usize, usize>, scopes: &mut [Vec<ScopeLine>]) {
    let mut stack: Vec<(Arc<ScopeNode>, Option<usize>, usize)> = vec![(root.clone(), None, 0)];
    while let Some((node, owner, depth)) = stack.pop() {
        let view = node.view();
        let task = view.waker_data.and_then(|d| by_ptr.get(&d).copied());
        let (owner, depth) = match (task, owner) {
            (Some(t), Some(o)) if t == o => (Some(o), depth + 1),
            (Some(t), _) => (Some(t), 0),
            (None, o) => (o, depth + 1),
        };
        if let Some(o) = owner {
            scopes[o].push(ScopeLine {
                depth,
                node: node.clone(),
            });
        }
        // Reversed, so the stack visits children in the order they were linked.
        for child in view.children.into_iter().rev() {
            stack.push((child, owner, depth));
        }
    }
}

struct View<'a> {
    tasks: &'a [Arc<TaskCore>],
    scopes: &'a [Vec<ScopeLine>],
    children: &'a [Vec<usize>],
    now: Instant,
}

impl View<'_> {
    fn task(&self, out: &mut String, i: usize, level: usize) {
        let t = &self.tasks[i];
        let pad = "  ".repeat(level);
        let state = if t.is_blocked() {
            "blocked"
        } else {
            "runnable"
        };
        let parent = t
            .info()
            .parent_id
            .map_or(String::new(), |p| format!(", parent {p}"));
        let _ = writeln!(
            out,
            "{pad}- task '{}' (id {}{parent}): {state}",
            t.display_name(),
            t.id
        );
        let lines = &self.scopes[i];
        if lines.is_empty() {
            let _ = writeln!(out, "{pad}    (not waiting in any anyio scope)");
        } else if lines.iter().all(|l| l.depth == 0) {
            let _ = writeln!(out, "{pad}    (waiting in no scope of its own)");
        }
        for line in lines.iter().filter(|l| l.depth > 0) {
            let inner = "  ".repeat(line.depth);
            let _ = writeln!(out, "{pad}  {inner}in scope: {}", self.describe(&line.node));
        }
        if let Some(own) = lines.iter().find(|l| l.depth == 0) {
            if own.node.cancel_called() {
                let _ = writeln!(out, "{pad}    (the task's own scope is cancelled)");
            }
        }
        for &c in &self.children[i] {
            self.task(out, c, level + 1);
        }
    }

    fn describe(&self, node: &ScopeNode) -> String {
        let mut parts = vec![match node.deadline() {
            None => "no deadline".to_owned(),
            Some(at) if at >= self.now => {
                format!("deadline in {:.3}s", (at - self.now).as_secs_f64())
            }
            Some(at) => format!("deadline passed {:.3}s ago", (self.now - at).as_secs_f64()),
        }];
        parts.push(
            if node.shield() {
                "shielded"
            } else {
                "not shielded"
            }
            .to_owned(),
        );
        if node.cancel_called() {
            parts.push("cancelled".to_owned());
        }
        parts.join(", ")
    }
}

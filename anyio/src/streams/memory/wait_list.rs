//! The FIFO lists of waiting senders and receivers of a memory object stream.

use slab::Slab;

const NIL: usize = usize::MAX;

/// A FIFO list of waiting operations in a slab: O(1) push, pop and removal by key.
/// Unlinking an entry (the operation completed or was skipped) keeps it in the slab until
/// its owner removes it (invariant 3 of `chan`).
pub(super) struct WaitList<W> {
    slab: Slab<Node<W>>,
    head: usize,
    tail: usize,
    linked: usize,
}

struct Node<W> {
    value: W,
    prev: usize,
    next: usize,
    linked: bool,
}

impl<W> WaitList<W> {
    pub(super) fn new() -> WaitList<W> {
        WaitList {
            slab: Slab::new(),
            head: NIL,
            tail: NIL,
            linked: 0,
        }
    }

    /// The number of linked (still waiting) entries.
    pub(super) fn len(&self) -> usize {
        self.linked
    }

    pub(super) fn push_back(&mut self, value: W) -> usize {
        let key = self.slab.insert(Node {
            value,
            prev: self.tail,
            next: NIL,
            linked: true,
        });
        match self.tail {
            NIL => self.head = key,
            tail => self.slab[tail].next = key,
        }
        self.tail = key;
        self.linked += 1;
        key
    }

    /// Links a new entry at the head of the list (a waiter woken for nothing keeps its
    /// place).
    pub(super) fn push_front(&mut self, value: W) -> usize {
        let key = self.slab.insert(Node {
            value,
            prev: NIL,
            next: self.head,
            linked: true,
        });
        match self.head {
            NIL => self.tail = key,
            head => self.slab[head].prev = key,
        }
        self.head = key;
        self.linked += 1;
        key
    }

    /// Unlinks the first entry and returns its key; the entry stays in the slab.
    pub(super) fn pop_front(&mut self) -> Option<usize> {
        match self.head {
            NIL => None,
            key => {
                self.unlink(key);
                Some(key)
            }
        }
    }

    pub(super) fn is_linked(&self, key: usize) -> bool {
        self.slab[key].linked
    }

    pub(super) fn get_mut(&mut self, key: usize) -> &mut W {
        &mut self.slab[key].value
    }

    pub(super) fn unlink(&mut self, key: usize) {
        let node = &mut self.slab[key];
        if !node.linked {
            return;
        }
        node.linked = false;
        let (prev, next) = (node.prev, node.next);
        node.prev = NIL;
        node.next = NIL;
        match prev {
            NIL => self.head = next,
            prev => self.slab[prev].next = next,
        }
        match next {
            NIL => self.tail = prev,
            next => self.slab[next].prev = prev,
        }
        self.linked -= 1;
    }

    /// Unlinks (if need be) and frees the entry.
    pub(super) fn remove(&mut self, key: usize) -> W {
        self.unlink(key);
        self.slab.remove(key).value
    }

    /// Every entry, linked or not.
    pub(super) fn iter_mut(&mut self) -> impl Iterator<Item = (usize, &mut W)> {
        self.slab.iter_mut().map(|(k, n)| (k, &mut n.value))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wait_list_is_fifo_and_removes_from_the_middle() {
        let mut list = WaitList::new();
        let a = list.push_back('a');
        let b = list.push_back('b');
        let c = list.push_back('c');
        assert_eq!(list.len(), 3);
        assert_eq!(list.remove(b), 'b');
        assert_eq!(list.pop_front(), Some(a));
        assert!(!list.is_linked(a));
        assert_eq!(*list.get_mut(a), 'a'); // still in the slab for its owner
        assert_eq!(list.pop_front(), Some(c));
        assert_eq!(list.pop_front(), None);
        assert_eq!(list.len(), 0);
        let d = list.push_back('d');
        let e = list.push_front('e');
        assert_eq!(list.pop_front(), Some(e));
        assert_eq!(list.pop_front(), Some(d));
        list.remove(e);
        list.remove(a);
        list.remove(c);
        list.remove(d);
        assert!(list.slab.is_empty());
    }
}

//! Per-group job FIFOs (compact and tasks), linked through one shared node
//! arena.
//!
//! A `VecDeque` per group would allocate when a group gets its first job and
//! free when it is evicted: an allocation per event at scale. Here every
//! group's queue is a linked list of indices into one arena whose freed
//! nodes are reused, so the steady state allocates nothing.

use crate::output::Work;

pub(crate) const NIL: u32 = u32::MAX;

/// A queued job: what a run will do, minus the message check.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Job<T, P> {
    Task { id: T, payload: P },
    Compact,
}

impl<T, P> Job<T, P> {
    pub(crate) fn into_work(self) -> Work<T, P> {
        match self {
            Job::Task { id, payload } => Work::Task { id, payload },
            Job::Compact => Work::Compact,
        }
    }
}

/// One group's queue: ends and length.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Queue {
    head: u32,
    tail: u32,
    len: u32,
}

impl Default for Queue {
    fn default() -> Self {
        Queue {
            head: NIL,
            tail: NIL,
            len: 0,
        }
    }
}

impl Queue {
    pub(crate) fn is_empty(&self) -> bool {
        self.len == 0
    }
    pub(crate) fn len(&self) -> usize {
        self.len as usize
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
struct Node<T, P> {
    job: Option<Job<T, P>>,
    next: u32,
}

/// The arena holding every group's jobs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Jobs<T, P> {
    nodes: Vec<Node<T, P>>,
    free: u32,
    len: usize,
}

impl<T, P> Default for Jobs<T, P> {
    fn default() -> Self {
        Jobs {
            nodes: Vec::new(),
            free: NIL,
            len: 0,
        }
    }
}

impl<T, P> Jobs<T, P> {
    /// Jobs queued across all groups.
    pub(crate) fn len(&self) -> usize {
        self.len
    }

    fn alloc(&mut self, job: Job<T, P>, next: u32) -> u32 {
        self.len += 1;
        if self.free != NIL {
            let i = self.free;
            let node = &mut self.nodes[i as usize];
            self.free = node.next;
            *node = Node {
                job: Some(job),
                next,
            };
            i
        } else {
            self.nodes.push(Node {
                job: Some(job),
                next,
            });
            (self.nodes.len() - 1) as u32
        }
    }

    pub(crate) fn push_back(&mut self, q: &mut Queue, job: Job<T, P>) {
        let i = self.alloc(job, NIL);
        if q.tail == NIL {
            q.head = i;
        } else {
            self.nodes[q.tail as usize].next = i;
        }
        q.tail = i;
        q.len += 1;
    }

    pub(crate) fn push_front(&mut self, q: &mut Queue, job: Job<T, P>) {
        let i = self.alloc(job, q.head);
        q.head = i;
        if q.tail == NIL {
            q.tail = i;
        }
        q.len += 1;
    }

    pub(crate) fn pop_front(&mut self, q: &mut Queue) -> Option<Job<T, P>> {
        if q.head == NIL {
            return None;
        }
        let i = q.head;
        let node = &mut self.nodes[i as usize];
        let job = node.job.take();
        q.head = node.next;
        node.next = self.free;
        self.free = i;
        if q.head == NIL {
            q.tail = NIL;
        }
        q.len -= 1;
        self.len -= 1;
        job
    }

    /// Whether `q` holds a task with this id: a scan, for short queues.
    pub(crate) fn has_task(&self, q: &Queue, id: &T) -> bool
    where
        T: PartialEq,
    {
        self.iter(q)
            .any(|j| matches!(j, Job::Task { id: queued, .. } if queued == id))
    }

    /// The jobs of `q`, front first.
    pub(crate) fn iter<'a>(&'a self, q: &Queue) -> impl Iterator<Item = &'a Job<T, P>> + 'a {
        let mut i = q.head;
        std::iter::from_fn(move || {
            let node = self.nodes.get(i as usize)?;
            i = node.next;
            node.job.as_ref()
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ids(jobs: &Jobs<u32, ()>, q: &Queue) -> Vec<Option<u32>> {
        jobs.iter(q)
            .map(|j| match j {
                Job::Task { id, .. } => Some(*id),
                Job::Compact => None,
            })
            .collect()
    }

    #[test]
    fn fifo_with_front_insert_and_node_reuse() {
        let mut jobs = Jobs::default();
        let (mut a, mut b) = (Queue::default(), Queue::default());
        for id in 0..3 {
            jobs.push_back(&mut a, Job::Task { id, payload: () });
            jobs.push_back(
                &mut b,
                Job::Task {
                    id: 10 + id,
                    payload: (),
                },
            );
        }
        jobs.push_front(&mut a, Job::Compact);
        assert_eq!(ids(&jobs, &a), [None, Some(0), Some(1), Some(2)]);
        assert_eq!(ids(&jobs, &b), [Some(10), Some(11), Some(12)]);
        assert_eq!(jobs.pop_front(&mut a), Some(Job::Compact));
        assert_eq!(jobs.len(), 6);
        let before = jobs.nodes.len();
        jobs.push_back(
            &mut b,
            Job::Task {
                id: 13,
                payload: (),
            },
        );
        assert_eq!(jobs.nodes.len(), before, "freed node reused");
        while jobs.pop_front(&mut a).is_some() {}
        assert!(a.is_empty());
        assert_eq!(ids(&jobs, &b), [Some(10), Some(11), Some(12), Some(13)]);
        jobs.push_front(&mut a, Job::Compact);
        assert_eq!(ids(&jobs, &a), [None]);
        assert_eq!(a.len(), 1);
    }
}

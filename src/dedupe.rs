//! Dropping repeats: Zoom may deliver the same event on several subscriptions of one app.

use std::collections::hash_map::DefaultHasher;
use std::collections::{HashSet, VecDeque};
use std::hash::{Hash, Hasher};

/// Remembers the last `capacity` distinct events by content and says whether an event is new.
///
/// Events are compared by their exact JSON text ([`Event::content`](crate::Event::content)),
/// through a 64-bit hash and the length: two different events are taken for the same one with a
/// chance of about one in 2^64 per pair. Memory stays bounded: 16 bytes per remembered event plus
/// the table.
///
/// ```
/// let mut seen = zoom_ws::Dedupe::new(2);
/// assert!(seen.first_time("a"));
/// assert!(!seen.first_time("a"));
/// assert!(seen.first_time("b"));
/// assert!(seen.first_time("c"));  // "a" falls out of the window
/// assert!(seen.first_time("a"));
/// ```
#[derive(Debug)]
pub struct Dedupe {
    capacity: usize,
    order: VecDeque<(u64, usize)>,
    remembered: HashSet<(u64, usize)>,
}

impl Dedupe {
    /// The window used by the CLI's `--dedupe`: Zoom's copies of one event arrive within moments
    /// of each other, far fewer than this many events apart.
    pub const DEFAULT_WINDOW: usize = 4096;

    /// A window of the last `capacity` distinct events (at least one).
    pub fn new(capacity: usize) -> Dedupe {
        let capacity = capacity.max(1);
        Dedupe {
            capacity,
            order: VecDeque::with_capacity(capacity),
            remembered: HashSet::with_capacity(capacity),
        }
    }

    /// True the first time `content` is seen within the window, and remembers it; false for a
    /// repeat.
    pub fn first_time(&mut self, content: &str) -> bool {
        let key = key(content);
        if self.remembered.contains(&key) {
            return false;
        }
        if self.order.len() == self.capacity {
            if let Some(oldest) = self.order.pop_front() {
                self.remembered.remove(&oldest);
            }
        }
        self.order.push_back(key);
        self.remembered.insert(key);
        true
    }
}

fn key(content: &str) -> (u64, usize) {
    // DefaultHasher::new() has fixed keys: the same content hashes alike across threads.
    let mut hasher = DefaultHasher::new();
    content.hash(&mut hasher);
    (hasher.finish(), content.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repeats_within_the_window_are_dropped() {
        let mut seen = Dedupe::new(3);
        let results: Vec<bool> = ["a", "b", "a", "c", "b", "d", "a", "a"]
            .iter()
            .map(|c| seen.first_time(c))
            .collect();
        // "a" leaves the window when "d" arrives (a, b, c were the three remembered).
        assert_eq!(results, [true, true, false, true, false, true, true, false]);
        assert_eq!(seen.order.len(), 3);
        assert_eq!(seen.remembered.len(), 3);
    }

    #[test]
    fn memory_stays_bounded() {
        let mut seen = Dedupe::new(100);
        for i in 0..10_000 {
            assert!(seen.first_time(&format!("event {i}")));
        }
        assert_eq!(seen.order.len(), 100);
        assert_eq!(seen.remembered.len(), 100);
    }
}

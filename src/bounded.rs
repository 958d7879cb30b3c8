//! A map with a fixed capacity that forgets its oldest entries first. The processor's memory
//! across invocations (streams, counted invocations, learned timeouts) lives in these, so a
//! long-lived warm container cannot grow without bound.

use std::collections::{HashMap, VecDeque};
use std::hash::Hash;

/// foldhash: several times quicker than the standard SipHash on the short keys kept here
/// (request-id hashes, stream and function names), and still seeded per process.
type Hasher = foldhash::fast::RandomState;

/// A map that keeps at most `capacity` entries, evicting in insertion order.
#[derive(Debug, Clone)]
pub struct BoundedMap<K, V> {
    map: HashMap<K, V, Hasher>,
    order: VecDeque<K>,
    capacity: usize,
}

impl<K: Hash + Eq + Clone, V> BoundedMap<K, V> {
    /// An empty map holding at most `capacity` entries.
    pub fn new(capacity: usize) -> Self {
        BoundedMap {
            map: HashMap::default(),
            order: VecDeque::new(),
            capacity: capacity.max(1),
        }
    }

    /// The value for `key`.
    pub fn get<Q>(&self, key: &Q) -> Option<&V>
    where
        K: std::borrow::Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        self.map.get(key)
    }

    /// The value for `key`, to change.
    pub fn get_mut<Q>(&mut self, key: &Q) -> Option<&mut V>
    where
        K: std::borrow::Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        self.map.get_mut(key)
    }

    /// The value for `key`, inserting `make()` first if absent.
    pub fn get_or_insert_with(&mut self, key: K, make: impl FnOnce() -> V) -> &mut V {
        // One lookup while there is room; only a full map looks twice, to evict first.
        if self.map.len() >= self.capacity && !self.map.contains_key(&key) {
            self.evict_for_one();
        }
        let order = &mut self.order;
        self.map.entry(key).or_insert_with_key(|key| {
            order.push_back(key.clone());
            make()
        })
    }

    /// Inserts `key` with `value` unless it is there already; whether it was absent.
    pub fn insert_absent(&mut self, key: K, value: V) -> bool {
        let mut absent = false;
        self.get_or_insert_with(key, || {
            absent = true;
            value
        });
        absent
    }

    /// Sets `key` to `value`.
    pub fn insert(&mut self, key: K, value: V) {
        if let Some(slot) = self.map.get_mut(&key) {
            *slot = value;
            return;
        }
        self.evict_for_one();
        self.order.push_back(key.clone());
        self.map.insert(key, value);
    }

    /// The key that goes first when room is needed.
    pub fn oldest(&self) -> Option<&K> {
        self.order.front()
    }

    /// Whether inserting `key` would evict the oldest entry.
    pub fn is_full_without<Q>(&self, key: &Q) -> bool
    where
        K: std::borrow::Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        self.map.len() >= self.capacity && !self.map.contains_key(key)
    }

    /// Number of entries.
    pub fn len(&self) -> usize {
        self.map.len()
    }

    /// Whether the map is empty.
    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }

    fn evict_for_one(&mut self) {
        while self.map.len() >= self.capacity {
            match self.order.pop_front() {
                Some(old) => {
                    self.map.remove(&old);
                }
                None => break,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn get_or_insert_with_keeps_the_bound_and_the_existing_value() {
        let mut m = BoundedMap::new(2);
        *m.get_or_insert_with("a", || 1) += 10;
        assert_eq!(*m.get_or_insert_with("a", || 99), 11);
        m.get_or_insert_with("b", || 2);
        m.get_or_insert_with("c", || 3);
        assert_eq!(m.len(), 2);
        assert_eq!(m.get("a"), None);
        assert_eq!((m.get("b"), m.get("c")), (Some(&2), Some(&3)));
    }

    #[test]
    fn insert_absent_says_whether_the_key_was_new_and_keeps_the_first_value() {
        let mut m = BoundedMap::new(2);
        assert!(m.insert_absent("a", 1));
        assert!(!m.insert_absent("a", 2));
        assert_eq!(m.get("a"), Some(&1));
        assert!(m.insert_absent("b", 2) && m.insert_absent("c", 3));
        assert_eq!(m.len(), 2);
        assert!(m.insert_absent("a", 4), "the oldest key was forgotten to make room");
    }

    #[test]
    fn the_oldest_entry_goes_first_when_full() {
        let mut m = BoundedMap::new(2);
        m.insert("a", 1);
        m.insert("b", 2);
        m.insert("a", 10);
        m.insert("c", 3);
        assert_eq!(m.len(), 2);
        assert_eq!(m.get("a"), None);
        assert_eq!(m.get("b"), Some(&2));
        assert_eq!(m.get("c"), Some(&3));
    }
}

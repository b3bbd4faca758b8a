//! Property tests: replicas that see changes in different orders, with duplicates and losses,
//! end in the same state and accept exactly the same changes.

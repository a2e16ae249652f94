//! Damage, gaps, cursors, orphans and drops on real files.

//! cetx-tests: end-to-end tests over loopback with the real server.
//!
//! Not built yet: the gateway they drive comes first.

//! The Concordat gRPC API, generated from the `.proto` files in this crate's directory.
//!
//! The proto files are the API's documentation; this crate only compiles them (with protox, so no
//! system `protoc` is needed) and exposes the generated messages, clients and servers, plus the
//! encoded file descriptor set that the server registers for reflection.
#![allow(missing_docs, clippy::all)]

pub mod behaviour;
pub mod codec;
pub mod limits;
pub mod value;

/// The encoded `FileDescriptorSet` of every Concordat proto (and its imports), for reflection.
pub const FILE_DESCRIPTOR_SET: &[u8] =
    include_bytes!(concat!(env!("OUT_DIR"), "/concordat_descriptor.bin"));

/// `concordat.platform.*`: identity, federation and the audit chain.
pub mod platform {
    /// `concordat.platform.v1`.
    pub mod v1 {
        tonic::include_proto!("concordat.platform.v1");
    }
}

/// `concordat.benefits.*`: benefit profiles, measurements, attribution and the ICS rollup.
pub mod benefits {
    /// `concordat.benefits.v1`.
    pub mod v1 {
        tonic::include_proto!("concordat.benefits.v1");
    }
}

/// `concordat.changecontrol.*`: change requests governed by design authorities and the board.
pub mod changecontrol {
    /// `concordat.changecontrol.v1`.
    pub mod v1 {
        tonic::include_proto!("concordat.changecontrol.v1");
    }
}

/// `concordat.convergence.*`: each trust's build against the governed baseline, and plans.
pub mod convergence {
    /// `concordat.convergence.v1`.
    pub mod v1 {
        tonic::include_proto!("concordat.convergence.v1");
    }
}

/// `concordat.sharedconfig.*`: the ICS baseline, trust overlays and governed publishing.
pub mod sharedconfig {
    /// `concordat.sharedconfig.v1`.
    pub mod v1 {
        tonic::include_proto!("concordat.sharedconfig.v1");
    }
}

//! Choosing the libtorch device.

use crate::{Error, Result};
use epc_core::config::DeviceChoice;
use tch::Device;

/// Resolves a device choice: `auto` picks CUDA, then MPS, then CPU.
///
/// An explicit `cuda` or `mps` that is not available is an error.
pub fn select(choice: DeviceChoice) -> Result<Device> {
    let cuda = tch::Cuda::is_available();
    let mps = tch::utils::has_mps();
    match choice {
        DeviceChoice::Cpu => Ok(Device::Cpu),
        DeviceChoice::Cuda if cuda => Ok(Device::Cuda(0)),
        DeviceChoice::Cuda => Err(Error::Device(
            "cuda (no CUDA GPU visible to libtorch)".into(),
        )),
        DeviceChoice::Mps if mps => Ok(Device::Mps),
        DeviceChoice::Mps => Err(Error::Device(
            "mps (libtorch has no Metal support here)".into(),
        )),
        DeviceChoice::Auto => Ok(if cuda {
            Device::Cuda(0)
        } else if mps {
            Device::Mps
        } else {
            Device::Cpu
        }),
    }
}

/// A short human name for a device.
pub fn name(device: Device) -> String {
    match device {
        Device::Cpu => "cpu".into(),
        Device::Cuda(i) => format!("cuda:{i}"),
        Device::Mps => "mps".into(),
        Device::Vulkan => "vulkan".into(),
    }
}

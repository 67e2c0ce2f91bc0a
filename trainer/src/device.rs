//! Choosing the libtorch device.

use crate::{Error, Result};
use epc_core::config::{DeviceChoice, Precision};
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

/// An error unless `device` runs bfloat16 matrix products natively: on a CPU that needs
/// AVX512-BF16 (x86) or the BF16 extension (ARM); without it libtorch emulates them, slower
/// than float32. GPUs (CUDA, MPS) are left to libtorch.
pub fn check_precision(device: Device, precision: Precision) -> Result<()> {
    if precision == Precision::Fp32 || device != Device::Cpu || cpu_has_bf16() {
        return Ok(());
    }
    Err(Error::Invalid(
        "--precision bf16 needs a CPU with AVX512-BF16 (or ARM BF16) or a GPU; this CPU has \
         neither, so bf16 would be slower than fp32 here"
            .into(),
    ))
}

/// Whether this CPU has native bfloat16 dot products.
pub fn cpu_has_bf16() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        std::arch::is_x86_feature_detected!("avx512bf16")
    }
    #[cfg(target_arch = "aarch64")]
    {
        std::arch::is_aarch64_feature_detected!("bf16")
    }
    #[cfg(not(any(target_arch = "x86_64", target_arch = "aarch64")))]
    {
        false
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn selection_follows_what_libtorch_sees() {
        assert_eq!(select(DeviceChoice::Cpu).unwrap(), Device::Cpu);
        let auto = select(DeviceChoice::Auto).unwrap();
        if tch::Cuda::is_available() {
            assert_eq!(auto, Device::Cuda(0));
            assert_eq!(select(DeviceChoice::Cuda).unwrap(), Device::Cuda(0));
        } else {
            let e = select(DeviceChoice::Cuda).unwrap_err().to_string();
            assert!(e.contains("cuda") && e.contains("not available"), "{e}");
            assert_ne!(auto, Device::Cuda(0));
        }
        if !tch::utils::has_mps() {
            assert!(select(DeviceChoice::Mps).is_err());
            if !tch::Cuda::is_available() {
                assert_eq!(auto, Device::Cpu);
            }
        }
        assert_eq!(name(Device::Cuda(1)), "cuda:1");
    }
}

//! The burn backend a command runs on: the CPU (burn's ndarray backend) always, an NVIDIA GPU
//! (burn's CUDA backend) when meshflow is built with `--features cuda`. The same generic code
//! runs on both.

/// Where to train and sample.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum DeviceArg {
    /// The CPU (burn's ndarray backend).
    #[default]
    Cpu,
    /// The first NVIDIA GPU (burn's CUDA backend; build with `--features cuda`).
    Cuda,
}

/// Runs `$body` with a type alias `B` (an autodiff backend) and a device `$device` of it.
macro_rules! with_backend {
    ($arg:expr, |$device:ident| $body:expr) => {{
        match $arg {
            $crate::cli::backend::DeviceArg::Cpu => {
                #[allow(dead_code)]
                type B = burn::backend::Autodiff<burn::backend::NdArray<f32>>;
                let $device = burn::backend::ndarray::NdArrayDevice::Cpu;
                $body
            }
            #[cfg(feature = "cuda")]
            $crate::cli::backend::DeviceArg::Cuda => {
                #[allow(dead_code)]
                type B = burn::backend::Autodiff<burn::backend::Cuda>;
                let $device = burn::backend::cuda::CudaDevice::default();
                $body
            }
            #[cfg(not(feature = "cuda"))]
            $crate::cli::backend::DeviceArg::Cuda => anyhow::bail!(
                "this meshflow was built without CUDA support: rebuild with \
                 `cargo build --release --features cuda` (needs the NVIDIA driver at run time)"
            ),
        }
    }};
}
pub(crate) use with_backend;

//! Opening a GPU: the instance, the adapter, the device and its queue, written once for
//! the native window, headless rendering, the image tests and the browser.
//!
//! Natively the best real GPU is chosen for profiling, or the software rasteriser
//! (lavapipe) for reproducible image tests and CI; in a browser the page's adapter.

use super::{GpuError, request_device};

/// Which adapter to prefer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AdapterPreference {
    /// Discrete over integrated over virtual over software; Vulkan/Metal/DX12 over GL.
    HighPerformance,
    /// Software rasterizers first (deterministic output for image tests).
    Software,
}

/// An open GPU. The instance and adapter stay alive with it: on WebGPU, dropping the
/// instance loses the device.
#[derive(Debug)]
pub struct GpuContext {
    /// The instance.
    pub instance: wgpu::Instance,
    /// The adapter.
    pub adapter: wgpu::Adapter,
    /// The device.
    pub device: wgpu::Device,
    /// Its queue.
    pub queue: wgpu::Queue,
}

impl GpuContext {
    /// Opens a device able to draw into `surface` (made from `instance`).
    pub async fn for_surface(
        instance: wgpu::Instance,
        surface: &wgpu::Surface<'_>,
        preference: AdapterPreference,
        name_filter: Option<&str>,
    ) -> Result<Self, GpuError> {
        #[cfg(not(target_arch = "wasm32"))]
        let adapter = select_adapter(
            &instance,
            native_backends(),
            preference,
            name_filter,
            Some(surface),
        )
        .await?;
        #[cfg(target_arch = "wasm32")]
        let adapter = {
            let _ = name_filter;
            instance
                .request_adapter(&wgpu::RequestAdapterOptions {
                    power_preference: match preference {
                        AdapterPreference::HighPerformance => {
                            wgpu::PowerPreference::HighPerformance
                        }
                        AdapterPreference::Software => wgpu::PowerPreference::LowPower,
                    },
                    compatible_surface: Some(surface),
                    ..wgpu::RequestAdapterOptions::default()
                })
                .await
                .map_err(|e| GpuError::NoAdapter(e.to_string()))?
        };
        let (device, queue) = request_device(&adapter).await?;
        Ok(Self {
            instance,
            adapter,
            device,
            queue,
        })
    }

    /// Opens a device without a surface (native): for offscreen rendering.
    #[cfg(not(target_arch = "wasm32"))]
    pub async fn headless(
        preference: AdapterPreference,
        name_filter: Option<&str>,
    ) -> Result<Self, GpuError> {
        let backends = native_backends();
        let mut desc = wgpu::InstanceDescriptor::new_without_display_handle();
        desc.backends = backends;
        let instance = wgpu::Instance::new(desc);
        let adapter = select_adapter(&instance, backends, preference, name_filter, None).await?;
        let (device, queue) = request_device(&adapter).await?;
        Ok(Self {
            instance,
            adapter,
            device,
            queue,
        })
    }
}

/// The backends to try natively: `WGPU_BACKEND` when set (e.g. `vulkan`, `gl`), else
/// all native ones.
#[cfg(not(target_arch = "wasm32"))]
pub fn native_backends() -> wgpu::Backends {
    wgpu::Backends::from_env().unwrap_or(wgpu::Backends::PRIMARY | wgpu::Backends::GL)
}

/// Enumerates adapters (those able to draw into `surface`, when given) and picks one
/// by `preference`; `name_filter` (case-insensitive substring of the adapter name, also
/// read from `CANDLEFISH_ADAPTER`) narrows the choice.
#[cfg(not(target_arch = "wasm32"))]
pub async fn select_adapter(
    instance: &wgpu::Instance,
    backends: wgpu::Backends,
    preference: AdapterPreference,
    name_filter: Option<&str>,
    surface: Option<&wgpu::Surface<'_>>,
) -> Result<wgpu::Adapter, GpuError> {
    let env_filter = std::env::var("CANDLEFISH_ADAPTER").ok();
    let filter = name_filter.or(env_filter.as_deref()).map(str::to_lowercase);
    let adapters = instance.enumerate_adapters(backends).await;
    let names: Vec<String> = adapters
        .iter()
        .map(|a| {
            let i = a.get_info();
            format!("{} ({:?}, {:?})", i.name, i.backend, i.device_type)
        })
        .collect();
    let rank = |a: &wgpu::Adapter| {
        let info = a.get_info();
        let kind = match (preference, info.device_type) {
            (AdapterPreference::HighPerformance, wgpu::DeviceType::DiscreteGpu) => 0,
            (AdapterPreference::HighPerformance, wgpu::DeviceType::IntegratedGpu) => 1,
            (AdapterPreference::HighPerformance, wgpu::DeviceType::VirtualGpu) => 2,
            (AdapterPreference::HighPerformance, wgpu::DeviceType::Cpu) => 3,
            (AdapterPreference::Software, wgpu::DeviceType::Cpu) => 0,
            (AdapterPreference::Software, _) => 1,
            _ => 4,
        };
        let backend = u8::from(info.backend == wgpu::Backend::Gl);
        (kind, backend)
    };
    adapters
        .into_iter()
        .filter(|a| {
            filter
                .as_deref()
                .is_none_or(|f| a.get_info().name.to_lowercase().contains(f))
        })
        .filter(|a| surface.is_none_or(|s| a.is_surface_supported(s)))
        .min_by_key(rank)
        .ok_or_else(|| {
            let found = if names.is_empty() {
                "none found; on Debian, `apt-get install mesa-vulkan-drivers` provides a CPU Vulkan adapter (lavapipe)".to_owned()
            } else if surface.is_some() {
                format!(
                    "none that matches {filter:?} can draw into this window; found: {}",
                    names.join(", ")
                )
            } else {
                format!("none matches {filter:?}; found: {}", names.join(", "))
            };
            GpuError::NoAdapter(found)
        })
}

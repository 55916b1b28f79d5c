//! Choosing an adapter natively: the best real GPU for profiling, or the software
//! rasterizer (lavapipe) for reproducible image tests and CI.

use super::GpuError;

/// Which adapter to prefer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AdapterPreference {
    /// Discrete over integrated over virtual over software; Vulkan/Metal/DX12 over GL.
    HighPerformance,
    /// Software rasterizers first (deterministic output for image tests).
    Software,
}

/// The backends to try: `WGPU_BACKEND` when set (e.g. `vulkan`, `gl`), else all
/// native ones.
pub fn native_backends() -> wgpu::Backends {
    wgpu::Backends::from_env().unwrap_or(wgpu::Backends::PRIMARY | wgpu::Backends::GL)
}

/// Enumerates adapters and picks one by `preference`; `name_filter` (case-insensitive
/// substring of the adapter name, also read from `CANDLEFISH_ADAPTER`) narrows the
/// choice.
pub async fn select_adapter(
    instance: &wgpu::Instance,
    backends: wgpu::Backends,
    preference: AdapterPreference,
    name_filter: Option<&str>,
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
        .min_by_key(rank)
        .ok_or_else(|| {
            let found = if names.is_empty() {
                "none found; on Debian, `apt-get install mesa-vulkan-drivers` provides a CPU Vulkan adapter (lavapipe)".to_owned()
            } else {
                format!("none matches {filter:?}; found: {}", names.join(", "))
            };
            GpuError::NoAdapter(found)
        })
}

/// A headless instance, adapter, device and queue.
pub async fn headless_device(
    preference: AdapterPreference,
    name_filter: Option<&str>,
) -> Result<(wgpu::Adapter, wgpu::Device, wgpu::Queue), GpuError> {
    let backends = native_backends();
    let mut desc = wgpu::InstanceDescriptor::new_without_display_handle();
    desc.backends = backends;
    let instance = wgpu::Instance::new(desc);
    let adapter = select_adapter(&instance, backends, preference, name_filter).await?;
    let (device, queue) = super::request_device(&adapter).await?;
    Ok((adapter, device, queue))
}

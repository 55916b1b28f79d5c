//! What a wasm bundle contains, read from the function names in its `name` section.
//!
//! wasm-bindgen keeps the `name` custom section (demangled: `naga::front::wgsl::…`) and
//! wasm-opt's `--strip-debug` removes it, so a bundle is inspected between the two. The
//! names show which crates were linked in, e.g. that the WebGL2 bundle holds no naga.

use anyhow::{Context, Result};
use wasmparser::{KnownCustom, Name, Parser, Payload};

/// Crates that must not be inside the `webgl` bundle: the WebGL2 backend and the
/// Canvas-2D fallback run on web-sys alone (issue 9). A function name containing one of
/// these (`naga::…`, `<wgpu_core::…>`, or their mangled forms) gives it away.
pub const FORBIDDEN_IN_WEBGL: [&str; 2] = ["naga", "wgpu_core"];

/// The function names of a wasm module's `name` section; `None` when it has no `name`
/// section (then nothing can be said about what it contains).
pub fn function_names(wasm: &[u8]) -> Result<Option<Vec<String>>> {
    let mut names: Option<Vec<String>> = None;
    for payload in Parser::new(0).parse_all(wasm) {
        let Payload::CustomSection(section) = payload.context("reading the wasm module")? else {
            continue;
        };
        let KnownCustom::Name(reader) = section.as_known() else {
            continue;
        };
        let list = names.get_or_insert_with(Vec::new);
        for subsection in reader {
            if let Name::Function(map) = subsection.context("reading the name section")? {
                for naming in map {
                    list.push(naming.context("reading a function name")?.name.to_owned());
                }
            }
        }
    }
    Ok(names)
}

/// What the `name` section of one bundle says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BundleNames {
    /// The bundle (`webgpu`, `webgl`).
    pub bundle: String,
    /// Named functions; `None` without a `name` section.
    pub functions: Option<usize>,
    /// For each of [`FORBIDDEN_IN_WEBGL`]: how many function names contain it, and the
    /// first few of them.
    pub matches: Vec<(&'static str, usize, Vec<String>)>,
}

impl BundleNames {
    /// Inspects the wasm of `bundle`.
    pub fn inspect(bundle: &str, wasm: &[u8]) -> Result<Self> {
        let names = function_names(wasm)?;
        Ok(Self::from_names(bundle, names.as_deref()))
    }

    /// Counts the forbidden crate names among `names`.
    pub fn from_names(bundle: &str, names: Option<&[String]>) -> Self {
        let matches = FORBIDDEN_IN_WEBGL
            .iter()
            .map(|&needle| {
                let hits: Vec<&String> = names
                    .unwrap_or_default()
                    .iter()
                    .filter(|n| n.contains(needle))
                    .collect();
                let examples = hits.iter().take(3).map(|s| (*s).clone()).collect();
                (needle, hits.len(), examples)
            })
            .collect();
        Self {
            bundle: bundle.to_owned(),
            functions: names.map(<[String]>::len),
            matches,
        }
    }

    /// How many function names contain `needle`.
    #[cfg(test)]
    pub fn count(&self, needle: &str) -> usize {
        self.matches
            .iter()
            .find(|(n, _, _)| *n == needle)
            .map_or(0, |(_, count, _)| *count)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use wasm_encoder::{
        CodeSection, CustomSection, ExportKind, ExportSection, Function, FunctionSection,
        Instruction, Module, NameMap, NameSection, TypeSection, ValType,
    };

    /// A module of three functions (one taking a SIMD vector, as the bundles' culling
    /// loop does), named in a `name` section when `names` is given.
    fn module(names: Option<&[&str]>) -> Vec<u8> {
        let mut module = Module::new();
        let mut types = TypeSection::new();
        types.ty().function([], [ValType::I32]);
        types.ty().function([ValType::V128], []);
        module.section(&types);
        let mut functions = FunctionSection::new();
        for ty in [0, 0, 1] {
            functions.function(ty);
        }
        module.section(&functions);
        let mut exports = ExportSection::new();
        exports.export("main", ExportKind::Func, 0);
        module.section(&exports);
        let mut code = CodeSection::new();
        for value in [1, 2] {
            let mut f = Function::new([]);
            f.instruction(&Instruction::I32Const(value));
            f.instruction(&Instruction::End);
            code.function(&f);
        }
        let mut f = Function::new([]);
        f.instruction(&Instruction::End);
        code.function(&f);
        module.section(&code);
        // Another custom section before `name`, as wasm-bindgen's output has `producers`.
        module.section(&CustomSection {
            name: "producers".into(),
            data: [0u8].as_slice().into(),
        });
        if let Some(names) = names {
            let mut map = NameMap::new();
            for (index, name) in (0u32..).zip(names) {
                map.append(index, name);
            }
            let mut section = NameSection::new();
            section.module("tiny");
            section.functions(&map);
            module.section(&section);
        }
        module.finish()
    }

    fn names_of(wasm: &[u8]) -> Option<Vec<String>> {
        match function_names(wasm) {
            Ok(names) => names,
            Err(e) => panic!("{e:#}"),
        }
    }

    #[test]
    fn reads_function_names() {
        let wasm = module(Some(&[
            "candlefish_app::web::start",
            "<naga::front::wgsl::Frontend>::parse",
            "_ZN9wgpu_core6device6Device6create17h0123456789abcdefE",
        ]));
        let names = names_of(&wasm);
        assert_eq!(names.as_deref().map(<[String]>::len), Some(3), "{names:?}");
        let report = BundleNames::from_names("webgl", names.as_deref());
        assert_eq!(report.functions, Some(3));
        assert_eq!(report.count("naga"), 1);
        assert_eq!(report.count("wgpu_core"), 1);
        assert_eq!(
            report.matches[0].2,
            ["<naga::front::wgsl::Frontend>::parse"]
        );
    }

    #[test]
    fn clean_names_count_nothing() {
        let wasm = module(Some(&[
            "web_sys::WebGl2RenderingContext::draw",
            "main",
            "cull",
        ]));
        let report = match BundleNames::inspect("webgl", &wasm) {
            Ok(r) => r,
            Err(e) => panic!("{e:#}"),
        };
        assert_eq!(report.functions, Some(3));
        assert!(report.matches.iter().all(|(_, count, _)| *count == 0));
    }

    #[test]
    fn a_module_without_names_is_told_apart() {
        assert_eq!(names_of(&module(None)), None);
        let report = BundleNames::from_names("webgl", None);
        assert_eq!(report.functions, None);
    }

    #[test]
    fn garbage_is_an_error() {
        assert!(function_names(b"\0asm\x01\0\0\0\x00\xff").is_err());
        assert!(function_names(b"not wasm").is_err());
    }
}

//! What runs on each new image, in order. The steps' code lives in the agent; this crate
//! holds what the pipeline file says about them, one file per step that takes options.

mod convert;
mod naming;

pub use convert::ConvertStep;
pub use naming::{NamePattern, NamingMode, NamingProblem, NamingStep};

use crate::node::{Node, Pos, Value};
use crate::reader::Reader;
use crate::values;

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Step {
    /// Checks the raw file's name against the naming convention.
    Naming(NamingStep),
    /// Reads the image's metadata (`inspect --json`).
    Metadata,
    /// Per-channel QC figures (`qc --json`).
    Qc,
    /// Writes the OME-Zarr conversion.
    Convert(ConvertStep),
}

const NAMES: &[&str] = &["naming", "metadata", "qc", "convert"];

impl Step {
    pub fn name(&self) -> &'static str {
        match self {
            Step::Naming(_) => "naming",
            Step::Metadata => "metadata",
            Step::Qc => "qc",
            Step::Convert(_) => "convert",
        }
    }

    pub(crate) fn defaults() -> Vec<Step> {
        vec![
            Step::Metadata,
            Step::Qc,
            Step::Convert(ConvertStep::default()),
        ]
    }
}

pub(crate) fn read_steps(node: &Node, pos: Pos, r: &mut Reader) -> Vec<Step> {
    let Some(items) = values::list(node, pos, "steps", r) else {
        return Step::defaults();
    };
    let mut steps: Vec<(Step, usize)> = Vec::with_capacity(items.len());
    for (i, item) in items.iter().enumerate() {
        let key = format!("steps[{i}]");
        let Some(step) = read_step(item, &key, r) else {
            continue;
        };
        if let Some((_, first)) = steps.iter().find(|(s, _)| s.name() == step.name()) {
            r.error(
                item.pos,
                format!(
                    "{key}: `{}` is already steps[{first}]; list each step once",
                    step.name()
                ),
            );
            continue;
        }
        steps.push((step, i));
    }
    steps.into_iter().map(|(s, _)| s).collect()
}

/// A bare name, or a one-key map from the name to its options.
fn read_step(node: &Node, key: &str, r: &mut Reader) -> Option<Step> {
    match &node.value {
        Value::Str(name) => step_named(name, None, node.pos, key, r),
        Value::Map(pairs) if pairs.len() == 1 => {
            let (name_node, options) = &pairs[0];
            let Value::Str(name) = &name_node.value else {
                r.error(
                    name_node.pos,
                    format!(
                        "{key}: expected a step name, found {}",
                        name_node.describe()
                    ),
                );
                return None;
            };
            step_named(name, Some(options), name_node.pos, key, r)
        }
        _ => {
            r.error(
                node.pos,
                format!(
                    "{key}: expected a step name ({}) or one name with its options, like {{convert: {{chunk_yx: 512}}}}, found {}",
                    NAMES.join(", "),
                    node.describe()
                ),
            );
            None
        }
    }
}

fn step_named(
    name: &str,
    options: Option<&Node>,
    pos: Pos,
    key: &str,
    r: &mut Reader,
) -> Option<Step> {
    match name {
        "metadata" | "qc" => {
            if let Some(options) = options
                && !is_empty(options)
            {
                r.error(
                    options.pos,
                    format!("{key}.{name}: `{name}` takes no options"),
                );
            }
            Some(if name == "qc" {
                Step::Qc
            } else {
                Step::Metadata
            })
        }
        "naming" => {
            let options = match options {
                Some(node) if !is_empty(node) => naming::read(node, &format!("{key}.naming"), r)?,
                _ => NamingStep::default(),
            };
            Some(Step::Naming(options))
        }
        "convert" => {
            let options = match options {
                Some(node) => convert::read(node, &format!("{key}.convert"), r)?,
                None => ConvertStep::default(),
            };
            Some(Step::Convert(options))
        }
        other => {
            r.error(
                pos,
                format!(
                    "{key}: unknown step `{other}`; known steps: {}",
                    NAMES.join(", ")
                ),
            );
            None
        }
    }
}

fn is_empty(node: &Node) -> bool {
    match &node.value {
        Value::Null => true,
        Value::Map(pairs) => pairs.is_empty(),
        _ => false,
    }
}

//! What a dataset file that gives no dataset is told: every problem by key path.

use std::path::Path;

/// One problem in a dataset file: where (a key path such as `features[2].levels`) and what.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    pub path: String,
    pub message: String,
}

/// Why a dataset file gave no dataset.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum DatasetFileError {
    #[error("cannot read dataset file {path}: {reason}")]
    Read { path: String, reason: String },
    #[error("{}is not TOML: {reason}", file_prefix(.file))]
    Toml { file: Option<String>, reason: String },
    #[error("{}", listed(.file, .problems))]
    Invalid {
        file: Option<String>,
        problems: Vec<Problem>,
    },
}

fn file_prefix(file: &Option<String>) -> String {
    match file {
        Some(file) => format!("dataset file {file} "),
        None => "the dataset file ".into(),
    }
}

fn listed(file: &Option<String>, problems: &[Problem]) -> String {
    let n = problems.len();
    let mut text = format!("{}has {n} problem{}:", file_prefix(file), if n == 1 { "" } else { "s" });
    for problem in problems {
        text.push_str(&format!("\n  {}: {}", problem.path, problem.message));
    }
    text
}

impl DatasetFileError {
    /// The same error, naming the file it came from.
    pub fn in_file(self, path: &Path) -> DatasetFileError {
        let file = Some(path.display().to_string());
        match self {
            DatasetFileError::Toml { reason, .. } => DatasetFileError::Toml { file, reason },
            DatasetFileError::Invalid { problems, .. } => DatasetFileError::Invalid { file, problems },
            read => read,
        }
    }

    /// The problems found, if the file parsed as TOML.
    pub fn problems(&self) -> &[Problem] {
        match self {
            DatasetFileError::Invalid { problems, .. } => problems,
            _ => &[],
        }
    }

    pub(crate) fn from_problems(problems: Vec<(String, String)>) -> Result<(), DatasetFileError> {
        if problems.is_empty() {
            return Ok(());
        }
        Err(DatasetFileError::Invalid {
            file: None,
            problems: problems
                .into_iter()
                .map(|(path, message)| Problem { path, message })
                .collect(),
        })
    }
}

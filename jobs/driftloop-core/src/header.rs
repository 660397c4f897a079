//! Maps CSV headers to spec columns: the public snake_case names and the other headers the
//! dataset file declares (the shipped file declares the published CSV's own, misspelt ones).

use crate::spec::spec;

/// What a CSV column holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HeaderTarget {
    /// The feature column at this spec index.
    Feature(usize),
    /// The label column.
    Label,
    /// Who labelled the row (`label_source`).
    LabelSource,
    /// A column the spec does not use (an ID such as "Patient Number", `id`, ...):
    /// carried through where output keeps the input's columns, never used for scoring.
    Other,
}

/// Folds a header to its comparable form: lowercase ASCII letters and digits, every other
/// run of characters one underscore. "Ignore & Move-On" becomes "ignore_move_on".
pub fn normalize_header(header: &str) -> String {
    let mut out = String::with_capacity(header.len());
    for ch in header.trim_start_matches('\u{feff}').chars() {
        if ch.is_ascii_alphanumeric() {
            out.push(ch.to_ascii_lowercase());
        } else if !out.is_empty() && !out.ends_with('_') {
            out.push('_');
        }
    }
    while out.ends_with('_') {
        out.pop();
    }
    out
}

/// The column a header names, by public name or by the original published header.
pub fn header_target(header: &str) -> HeaderTarget {
    let s = spec();
    let key = normalize_header(header);
    for (idx, column) in s.features.iter().enumerate() {
        if key == column.name || column.header.as_deref().is_some_and(|h| key == normalize_header(h)) {
            return HeaderTarget::Feature(idx);
        }
    }
    if key == s.label || s.label_header.as_deref().is_some_and(|h| key == normalize_header(h)) {
        return HeaderTarget::Label;
    }
    if key == "label_source" {
        return HeaderTarget::LabelSource;
    }
    HeaderTarget::Other
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn original_headers_map_to_spec_columns() {
        let s = spec();
        for column in &s.features {
            let idx = s.feature_index(&column.name).unwrap();
            assert_eq!(header_target(&column.name), HeaderTarget::Feature(idx));
            assert_eq!(
                header_target(column.header.as_deref().unwrap()),
                HeaderTarget::Feature(idx)
            );
        }
        assert_eq!(header_target("\u{feff}Sadness"), HeaderTarget::Feature(0));
        assert_eq!(header_target("Ignore & Move-On"), HeaderTarget::Feature(10));
        assert_eq!(header_target("Expert Diagnose"), HeaderTarget::Label);
        assert_eq!(header_target("diagnosis"), HeaderTarget::Label);
        assert_eq!(header_target("Patient Number"), HeaderTarget::Other);
        assert_eq!(header_target("label_source"), HeaderTarget::LabelSource);
    }
}

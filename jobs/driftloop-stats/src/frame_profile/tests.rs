//! Counting a frame's columns by their codes, against the query's counts.

use super::*;

fn levels(is_enum: bool) -> Levels {
    let (values, codes) = if is_enum {
        (vec!["a", "b", "c"], vec![0, 1, 2])
    } else {
        (vec!["1", "2", "5"], vec![1, 2, 5])
    };
    Levels {
        name: "c",
        values: values.into_iter().map(String::from).collect(),
        is_enum,
        codes,
    }
}

/// A column of `values` in two chunks, as `dtype`.
fn frame_of(values: &[Option<&str>], dtype: &DataType) -> DataFrame {
    let (first, second) = values.split_at(values.len() / 2);
    let mut series = Series::new("c".into(), first).cast(dtype).unwrap();
    series
        .append(&Series::new("c".into(), second).cast(dtype).unwrap())
        .unwrap();
    assert_eq!(series.n_chunks(), 2);
    DataFrame::new_infer_height(vec![series.into()]).unwrap()
}

#[test]
fn codes_are_counted_as_the_query_counts_their_text() {
    let enum_type = DataType::from_frozen_categories(FrozenCategories::new(["a", "b", "c"]).unwrap());
    let rows = [Some("c"), None, Some("a"), Some("c"), Some("b"), None, Some("c")];
    let scores = [Some("5"), None, Some("1"), Some("5"), Some("2"), None, Some("5")];
    let cases = [
        (true, &rows, enum_type.clone()),
        (false, &scores, DataType::UInt8),
        (false, &scores, DataType::Int16),
        (false, &scores, DataType::UInt32),
        (false, &scores, DataType::Int64),
    ];
    for (is_enum, values, dtype) in cases {
        let levels = levels(is_enum);
        let frame = frame_of(values, &dtype);
        assert!(compare_of(&frame, "t", &levels).unwrap() == Compare::Codes, "{dtype}");
        let text = frame_of(values, &DataType::String);
        assert!(compare_of(&text, "t", &levels).unwrap() == Compare::Text);
        let by_codes = count_all(&frame, "t", &[&levels]).unwrap();
        assert_eq!(by_codes, vec![(vec![1, 1, 3], 2)], "{dtype}");
        assert_eq!(by_codes, count_all(&text, "t", &[&levels]).unwrap(), "{dtype}");
    }
    // A score outside the levels is refused, naming it, as in text.
    let levels = levels(false);
    let outside = [Some("1"), Some("3"), None];
    for dtype in [DataType::UInt8, DataType::Int64] {
        let err = count_all(&frame_of(&outside, &dtype), "t", &[&levels])
            .unwrap_err()
            .to_string();
        assert!(err.contains('3'), "{err}");
    }
    assert!(count_all(&frame_of(&outside, &DataType::String), "t", &[&levels]).is_err());
}

#[test]
fn a_column_of_one_value_is_counted_without_its_rows() {
    let levels = levels(false);
    let five = Column::new_scalar("c".into(), Scalar::new(DataType::Int64, AnyValue::Int64(5)), 4);
    let nulls = Column::full_null("c".into(), 4, &DataType::Int64);
    assert_eq!(count_codes(&five, &levels.codes).unwrap(), (vec![0, 0, 4], 0));
    assert_eq!(count_codes(&nulls, &levels.codes).unwrap(), (vec![0, 0, 0], 4));
    let frame = DataFrame::new(4, vec![five.clone()]).unwrap();
    assert_eq!(count_all(&frame, "t", &[&levels]).unwrap(), vec![(vec![0, 0, 4], 0)]);
    assert!(five.as_scalar_column().unwrap().lazy_as_materialized_series().is_none());
}

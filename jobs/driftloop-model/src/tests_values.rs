//! How training rows are held and scored: as one-byte codes or as numbers (the same
//! model either way), a block of rows at a time, and a forest tree by tree as it grows.

use driftloop_core::spec;

use crate::tests::{dataset, fitting_rows};
use crate::*;

/// The training rows held as one-byte codes, as a train job holds the shipped dataset,
/// train the model they train as 8-byte numbers: the same choice, scores and model, with
/// the whole default grid (every family, its balanced twins, calibration, the served
/// refit).
#[test]
fn rows_held_as_codes_train_the_model_they_train_as_numbers() {
    let numbers = dataset(700, 12);
    let encoder = Encoder::from_spec(spec());
    assert!(encoder.one_byte_values() && encoder.one_byte_inputs());
    let codes: Vec<u8> = (0..numbers.values.len())
        .map(|i| numbers.values.number(i) as u8)
        .collect();
    let codes = Dataset {
        values: FeatureValues::Codes(codes),
        ..numbers.clone()
    };
    let config = TrainConfig {
        threads: 2,
        ..TrainConfig::default()
    };
    let a = train(&numbers, &encoder, 4, &config).unwrap();
    let b = train(&codes, &encoder, 4, &config).unwrap();
    assert_eq!(a.chosen, b.chosen);
    assert_eq!(a.cv, b.cv);
    assert_eq!(a.holdout, b.holdout);
    assert_eq!(a.holdout_probabilities, b.holdout_probabilities);
    assert_eq!(a.calibration, b.calibration);
    assert_eq!(a.served_rows, b.served_rows);
    assert_eq!(format!("{:?}", a.model), format!("{:?}", b.model));
    // The refit's rows are codes; the cross-validation's and holdout's matrices numbers.
    let rows = codes.rows(&encoder, &[0, 1, 2]).unwrap();
    assert!(matches!(rows.values, Inputs::Codes(ref c) if c.len() == 3 * 17));
    assert_eq!(
        rows.into_matrix().unwrap(),
        numbers.matrix(&encoder, &[0, 1, 2]).unwrap()
    );
}

/// A missing value held as a code ([`MISSING_CODE`]) is a missing value: the encoder
/// imputes the same value from codes as from numbers, and encodes it alike.
#[test]
fn a_missing_code_is_a_missing_value() {
    let spec = driftloop_core::dataset_file::parse_dataset(
        "name = \"shop\"\n[label]\nname = \"returned\"\nclasses = [\"no\", \"yes\"]\n\
         [[features]]\nname = \"category\"\nkind = \"categorical\"\nlevels = [\"books\", \"garden\", \"toys\"]\nnullable = true\n\
         [[features]]\nname = \"items\"\nkind = \"integer\"\nmin = 0\nmax = 254\nnullable = true\n",
    )
    .unwrap();
    let encoder = Encoder::from_spec(&spec);
    assert!(encoder.one_byte_values() && encoder.one_byte_inputs());
    let nan = f64::NAN;
    let numbers = FeatureValues::Numbers(vec![2.0, 7.0, nan, 3.0, 2.0, nan, 0.0, 254.0, 1.0, 5.0]);
    let codes = FeatureValues::Codes(vec![2, 7, MISSING_CODE, 3, 2, MISSING_CODE, 0, 254, 1, 5]);
    assert!(codes.number(2).is_nan());
    let from_numbers = encoder.clone().impute_from(&numbers);
    let from_codes = encoder.clone().impute_from(&codes);
    assert_eq!(from_codes, from_numbers);
    // category: 2, 2, 0, 1 → 2; items: 7, 3, 254, 5 → the lower middle, 5.
    let imputed: Vec<Option<f64>> = from_codes.columns.iter().map(|c| c.impute).collect();
    assert_eq!(imputed, [Some(2.0), Some(5.0)]);
    let as_codes = Dataset {
        n_features: 2,
        values: codes,
        labels: vec![0, 1, 0, 1, 1],
    };
    let as_numbers = Dataset {
        values: numbers,
        ..as_codes.clone()
    };
    let all = [0, 1, 2, 3, 4];
    let rows = as_codes.rows(&from_codes, &all).unwrap();
    assert_eq!(
        rows.values,
        Inputs::Codes(vec![0, 0, 1, 7, 0, 0, 1, 3, 0, 0, 1, 5, 1, 0, 0, 254, 0, 1, 0, 5])
    );
    assert_eq!(
        rows.into_matrix().unwrap(),
        as_numbers.matrix(&from_numbers, &all).unwrap()
    );
    // A number column, or an integer reaching 255, keeps the rows as numbers.
    let wide = driftloop_core::dataset_file::parse_dataset(
        "name = \"shop\"\n[label]\nname = \"returned\"\nclasses = [\"no\", \"yes\"]\n\
         [[features]]\nname = \"items\"\nkind = \"integer\"\nmin = 0\nmax = 255\n",
    )
    .unwrap();
    let wide = Encoder::from_spec(&wide);
    assert!(!wide.one_byte_values() && wide.one_byte_inputs());
    let churn = Encoder::from_spec(
        &driftloop_core::dataset_file::parse_dataset(include_str!("../../../data-fixtures/synthetic/dataset.toml"))
            .unwrap(),
    );
    assert!(!churn.one_byte_values() && !churn.one_byte_inputs());
}

/// Scoring encoded rows a block at a time gives the probabilities of their whole matrix,
/// for a candidate of every family, from codes and from numbers, across block boundaries.
#[test]
fn rows_scored_a_block_at_a_time_score_as_their_matrix() {
    let n = crate::values::SCORE_BLOCK_ROWS * 2 + 5;
    let data = dataset(n, 21);
    let encoder = Encoder::from_spec(spec());
    let fit_rows: Vec<usize> = (0..400).collect();
    let y: Vec<i32> = fit_rows.iter().map(|&r| data.labels[r] as i32).collect();
    let x_fit = data.matrix(&encoder, &fit_rows).unwrap();
    let all: Vec<usize> = (0..n).collect();
    let x = data.matrix(&encoder, &all).unwrap();
    let codes = data.rows(&encoder, &all).unwrap();
    assert!(matches!(codes.values, Inputs::Codes(_)));
    let numbers = Rows {
        values: Inputs::Numbers(codes.values.clone().into_numbers()),
        ..codes.clone()
    };
    let grid = default_grid();
    for family in Family::ALL {
        let candidate = grid.iter().find(|c| c.family() == family).unwrap();
        let model = Fitted::fit(candidate, &x_fit, &y, 3, 2).unwrap();
        let whole = model.predict_proba(&x, 4).unwrap();
        assert_eq!(whole.len(), n);
        assert_eq!(model.predict_proba_rows(&codes, 4).unwrap(), whole, "{family}");
        assert_eq!(model.predict_proba_rows(&numbers, 4).unwrap(), whole, "{family}");
        assert_eq!(
            model.predict_rows(&codes, 4).unwrap(),
            model.predict(&x, 4).unwrap(),
            "{family}"
        );
    }
}

/// Cross-validation's fit-and-score gives, bit for bit, the probabilities of the fitted
/// model: a forest scored tree by tree as it grows (never held whole) as the forest's own,
/// every other family as its fit then its scores; with and without balanced class weights,
/// from its matrix or from its rows as they lie (codes or numbers), and the same error for
/// rows of another width.
#[test]
fn a_fold_scored_as_its_forest_grows_scores_as_the_forest() {
    let (data, x, y) = fitting_rows(500, 17);
    let encoder = Encoder::from_spec(spec());
    let check_rows: Vec<usize> = (0..150).collect();
    let x_check = data.matrix(&encoder, &check_rows).unwrap();
    let continuous = encoder.continuous();
    let mut candidates = default_grid();
    candidates.extend(
        default_grid()
            .iter()
            .filter_map(|c| c.with_class_weight(ClassWeight::Balanced)),
    );
    // The same rows encoded as they lie, as codes and as numbers.
    let all: Vec<usize> = (0..data.n_rows()).collect();
    let codes = data.rows(&encoder, &all).unwrap();
    let check_codes = data.rows(&encoder, &check_rows).unwrap();
    assert!(matches!(codes.values, Inputs::Codes(_)));
    let as_numbers = |rows: &Rows| Rows {
        values: Inputs::Numbers(rows.values.clone().into_numbers()),
        n_rows: rows.n_rows,
        width: rows.width,
    };
    let (numbers, check_numbers) = (as_numbers(&codes), as_numbers(&check_codes));
    let mut forests = 0;
    for candidate in &candidates {
        let fitted = Fitted::fit_columns(candidate, &x, &y, 9, 1, &continuous).unwrap();
        let scored = Fitted::fit_and_score(candidate, &x, &y, 9, &continuous, &x_check, 4).unwrap();
        assert_eq!(scored, fitted.predict_proba(&x_check, 4).unwrap(), "{candidate:?}");
        for (rows, check) in [(&codes, &check_codes), (&numbers, &check_numbers)] {
            let from_rows = Fitted::fit_and_score_rows(candidate, rows, &y, 9, &continuous, check, 4).unwrap();
            assert_eq!(from_rows, scored, "{candidate:?} from its rows");
        }
        forests += usize::from(candidate.family() == Family::RandomForest);
    }
    assert_eq!(forests, 6, "three forests of the grid and their balanced twins");
    let narrow = smartcore::linalg::basic::matrix::DenseMatrix::new(1, 3, vec![0.0; 3], false).unwrap();
    let err = Fitted::fit_and_score(&candidates[3], &x, &y, 9, &continuous, &narrow, 4).unwrap_err();
    assert!(
        err.to_string().contains("the model takes 17 features, the rows have 3"),
        "{err}"
    );
    let narrow = Rows {
        values: Inputs::Codes(vec![0; 3]),
        n_rows: 1,
        width: 3,
    };
    let err = Fitted::fit_and_score_rows(&candidates[3], &codes, &y, 9, &continuous, &narrow, 4).unwrap_err();
    assert!(
        err.to_string().contains("the model takes 17 features, the rows have 3"),
        "{err}"
    );
}

/// A column of one-byte values sets what its numbers set: codes as they are, a missing
/// value as the missing code, and a value equal to the missing code turns the rows into
/// numbers, as the number would.
#[test]
fn a_column_of_bytes_sets_what_its_numbers_set() {
    let (n, p) = (300, 3);
    let columns: Vec<Vec<Option<u8>>> = vec![
        (0..n).map(|r| Some((r % 4) as u8)).collect(),
        (0..n).map(|r| (r % 5 != 0).then_some((r % 7) as u8)).collect(),
        (0..n)
            .map(|r| Some(if r == 17 { MISSING_CODE } else { (r % 3) as u8 }))
            .collect(),
    ];
    for start in [
        FeatureValues::Codes(vec![0; n * p]),
        FeatureValues::Numbers(vec![0.0; n * p]),
    ] {
        let (mut by_bytes, mut by_numbers) = (start.clone(), start);
        for (c, column) in columns.iter().enumerate() {
            by_bytes.set_column_bytes(c, p, || column.iter().copied());
            let numbers: Vec<f64> = column.iter().map(|v| v.map_or(f64::NAN, f64::from)).collect();
            by_numbers.set_column(c, p, &numbers);
            let same = (0..n * p).all(|i| {
                let (a, b) = (by_bytes.number(i), by_numbers.number(i));
                a == b || (a.is_nan() && b.is_nan())
            });
            assert!(same, "column {c}");
            assert_eq!(
                matches!(by_bytes, FeatureValues::Codes(_)),
                matches!(by_numbers, FeatureValues::Codes(_)),
                "column {c}"
            );
        }
        assert!(matches!(by_bytes, FeatureValues::Numbers(_)), "255 is not a code");
    }
}

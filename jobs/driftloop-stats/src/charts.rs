//! The dashboard's trend charts, drawn with the same plotters SVG backend and colours as
//! the drift report's bar charts: a series of checks as a line with a dot per check,
//! against a reference line (a threshold, or each check's own reference value). The
//! SVG has no text: the page around it labels the axes.

use plotters::prelude::*;

use crate::html::{CURRENT_COLOUR, REFERENCE_COLOUR};

/// Size of a trend chart, in pixels.
pub const TREND_WIDTH: u32 = 720;
pub const TREND_HEIGHT: u32 = 160;
const PAD: i32 = 6;

/// `values` (one per check, oldest first; `None` where a check has none) as an orange
/// line with dots, and `reference` (the same length) as a blue line, on a y axis from 0
/// to `y_max`. An empty series gives an empty frame.
pub fn trend_svg(values: &[Option<f64>], reference: &[f64], y_max: f64) -> String {
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (TREND_WIDTH, TREND_HEIGHT)).into_drawing_area();
        let _ = root.fill(&WHITE);
        let n = values.len().max(reference.len());
        let (w, h) = (TREND_WIDTH as i32 - 2 * PAD, TREND_HEIGHT as i32 - 2 * PAD);
        let x = |i: usize| {
            PAD + if n <= 1 {
                w / 2
            } else {
                (i as i64 * w as i64 / (n as i64 - 1)) as i32
            }
        };
        let y_max = if y_max > 0.0 { y_max } else { 1.0 };
        let y = |v: f64| PAD + h - ((v.clamp(0.0, y_max) / y_max) * h as f64).round() as i32;
        let _ = root.draw(&PathElement::new(
            vec![(PAD, PAD + h), (PAD + w, PAD + h)],
            RGBColor(170, 170, 170),
        ));
        let line: Vec<(i32, i32)> = reference.iter().enumerate().map(|(i, v)| (x(i), y(*v))).collect();
        if line.len() == 1 {
            let _ = root.draw(&PathElement::new(
                vec![(PAD, line[0].1), (PAD + w, line[0].1)],
                REFERENCE_COLOUR,
            ));
        } else {
            let _ = root.draw(&PathElement::new(line, REFERENCE_COLOUR.stroke_width(2)));
        }
        let points: Vec<(i32, i32)> = values
            .iter()
            .enumerate()
            .filter_map(|(i, v)| v.map(|v| (x(i), y(v))))
            .collect();
        let _ = root.draw(&PathElement::new(points.clone(), CURRENT_COLOUR.stroke_width(2)));
        for point in points {
            let _ = root.draw(&Circle::new(point, 3, CURRENT_COLOUR.filled()));
        }
        let _ = root.present();
    }
    svg
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_trend_has_a_dot_per_check_with_a_value() {
        let svg = trend_svg(&[Some(0.1), None, Some(0.5)], &[0.3, 0.3, 0.3], 1.0);
        assert!(svg.starts_with("<svg"), "{svg}");
        assert_eq!(svg.matches("<circle").count(), 2, "{svg}");
        let empty = trend_svg(&[], &[], 1.0);
        assert_eq!(empty.matches("<circle").count(), 0);
    }
}

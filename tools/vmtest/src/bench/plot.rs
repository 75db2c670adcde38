// SPDX-License-Identifier: GPL-2.0
//! The PNG of the ratios and of the fractions of memcpy.

use std::path::Path;

use anyhow::anyhow;
use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use super::report::ratio;
use super::stats::Which;
use super::stats::{Sample, Samples};
use super::workload::WORKLOADS;
use crate::Result;

/// The font of the plot's text (Debian: fonts-dejavu-core, installed by `make setup`).
const FONT: &str = "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf";

/// A panel of horizontal bars: one group per row, one bar per series.
struct Panel<'a> {
    title: &'a str,
    x_desc: &'a str,
    series: &'a [(&'a str, RGBColor)],
    rows: Vec<(String, Vec<Option<f64>>)>,
    reference: f64,
}

fn plot_err<E: std::fmt::Debug>(e: E) -> anyhow::Error {
    anyhow!("plot: {e:?}")
}

fn draw_panel(
    root: &DrawingArea<BitMapBackend<'_>, Shift>,
    area: &DrawingArea<BitMapBackend<'_>, Shift>,
    p: &Panel<'_>,
) -> Result<()> {
    let n = p.rows.len().max(1);
    let top = p
        .rows
        .iter()
        .flat_map(|(_, v)| v.iter().flatten())
        .fold(p.reference, |a, &b| a.max(b));
    let xmax = (top * 1.18).max(0.1);
    let mut chart = ChartBuilder::on(area)
        .caption(p.title, ("sans-serif", 22))
        .margin(12)
        .x_label_area_size(40)
        .y_label_area_size(230)
        .build_cartesian_2d(0f64..xmax, 0f64..n as f64)
        .map_err(plot_err)?;
    chart
        .configure_mesh()
        .disable_y_mesh()
        .light_line_style(RGBColor(0xee, 0xee, 0xee))
        .y_labels(0)
        .x_desc(p.x_desc)
        .label_style(("sans-serif", 15))
        .draw()
        .map_err(plot_err)?;
    let k = p.series.len().max(1) as f64;
    let band = 0.8 / k;
    for (j, (name, colour)) in p.series.iter().enumerate() {
        let colour = *colour;
        let bars: Vec<_> = p
            .rows
            .iter()
            .enumerate()
            .filter_map(|(i, (_, v))| {
                let val = (*v.get(j)?)?;
                let y1 = (n - 1 - i) as f64 + 0.9 - band * j as f64;
                Some(Rectangle::new(
                    [(0.0, y1 - band * 0.9), (val, y1)],
                    colour.filled(),
                ))
            })
            .collect();
        chart
            .draw_series(bars)
            .map_err(plot_err)?
            .label(*name)
            .legend(move |(x, y)| Rectangle::new([(x, y - 6), (x + 14, y + 6)], colour.filled()));
        let values: Vec<_> = p
            .rows
            .iter()
            .enumerate()
            .filter_map(|(i, (_, v))| {
                let val = (*v.get(j)?)?;
                let y = (n - 1 - i) as f64 + 0.9 - band * j as f64 - band * 0.45;
                Some(
                    EmptyElement::at((val, y))
                        + Text::new(
                            format!("{val:.2}"),
                            (4, 0),
                            ("sans-serif", 13)
                                .into_font()
                                .color(&BLACK)
                                .pos(Pos::new(HPos::Left, VPos::Center)),
                        ),
                )
            })
            .collect();
        chart.draw_series(values).map_err(plot_err)?;
    }
    chart
        .draw_series(LineSeries::new(
            [(p.reference, 0.0), (p.reference, n as f64)],
            RED.stroke_width(2),
        ))
        .map_err(plot_err)?;
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::LowerRight)
        .label_font(("sans-serif", 14))
        .background_style(WHITE.mix(0.9))
        .border_style(BLACK)
        .draw()
        .map_err(plot_err)?;
    // Row names left of the plot, in the root's pixel coordinates.
    for (i, (name, _)) in p.rows.iter().enumerate() {
        let (x, y) = chart.backend_coord(&(0.0, (n - 1 - i) as f64 + 0.5));
        root.draw(&Text::new(
            name.clone(),
            (x - 8, y),
            ("sans-serif", 15)
                .into_font()
                .color(&BLACK)
                .pos(Pos::new(HPos::Right, VPos::Center)),
        ))
        .map_err(plot_err)?;
    }
    Ok(())
}

/// Draws the ratios and the fractions of memcpy into a PNG.
pub fn plot(s: &Samples, title: &str, out: &Path) -> Result<()> {
    let font = std::fs::read(FONT).map_err(|e| {
        anyhow!("{FONT}: {e} (the plot needs it: install fonts-dejavu-core, e.g. with make setup)")
    })?;
    // The plotting library keeps registered fonts for the life of the program.
    let font: &'static [u8] = Box::leak(font.into_boxed_slice());
    plotters::style::register_font("sans-serif", FontStyle::Normal, font)
        .map_err(|_| anyhow!("{FONT}: not a usable font"))?;

    let ratios = Panel {
        title: "rbochs / C bochs, same boot (> 1: rbochs faster or cheaper)",
        x_desc: "ratio of medians",
        series: &[
            ("throughput", RGBColor(0x3b, 0x6e, 0xb5)),
            ("CPU per update", RGBColor(0xe0, 0x8a, 0x2c)),
            ("QEMU display side per update", RGBColor(0x8e, 0x5e, 0xa2)),
        ],
        rows: WORKLOADS
            .iter()
            .map(|wl| {
                let st = |d, f: fn(&Sample) -> f64| s.stat(d, wl.name, |x| Some(f(x)));
                let rate = ratio(st(Which::R, |x| x.rate), st(Which::C, |x| x.rate));
                let cpu = ratio(st(Which::C, |x| x.cpu_ms), st(Which::R, |x| x.cpu_ms));
                let disp = |d| s.stat(d, wl.name, |x| x.qemu_display_ms);
                let host = ratio(disp(Which::C), disp(Which::R));
                (wl.what.to_string(), vec![rate, cpu, host])
            })
            .collect(),
        reference: 1.0,
    };
    let fractions = Panel {
        title: "Fraction of the memcpy limit (memcpy time / CPU time per update)",
        x_desc: "fraction of memcpy (target for full frames: 0.8 of the paced one)",
        series: &[
            ("rbochs, paced memcpy", RGBColor(0x2e, 0x8b, 0x57)),
            ("C bochs, paced memcpy", RGBColor(0x99, 0x99, 0x99)),
            ("rbochs, loop memcpy", RGBColor(0xa8, 0xd5, 0xb5)),
        ],
        rows: WORKLOADS
            .iter()
            .filter(|wl| wl.copy)
            .map(|wl| {
                let f = |d, g: fn(&Sample) -> Option<f64>| s.stat(d, wl.name, g).map(|x| x.median);
                (
                    wl.what.to_string(),
                    vec![
                        f(Which::R, Sample::paced_fraction),
                        f(Which::C, Sample::paced_fraction),
                        f(Which::R, Sample::memcpy_fraction),
                    ],
                )
            })
            .collect(),
        reference: 0.8,
    };

    let (w, h) = (1200u32, 1100u32);
    let mut buf = vec![0u8; (w * h * 3) as usize];
    {
        let root = BitMapBackend::with_buffer(&mut buf, (w, h)).into_drawing_area();
        root.fill(&WHITE).map_err(plot_err)?;
        let root_t = root.titled(title, ("sans-serif", 18)).map_err(plot_err)?;
        let (a, b) = root_t.split_vertically(h * 56 / 100);
        draw_panel(&root, &a, &ratios)?;
        draw_panel(&root, &b, &fractions)?;
        root.present().map_err(plot_err)?;
    }
    let f = std::fs::File::create(out).map_err(|e| anyhow!("{}: {e}", out.display()))?;
    let mut enc = png::Encoder::new(std::io::BufWriter::new(f), w, h);
    enc.set_color(png::ColorType::Rgb);
    enc.set_depth(png::BitDepth::Eight);
    enc.set_compression(png::Compression::Best);
    enc.set_adaptive_filter(png::AdaptiveFilterType::Adaptive);
    enc.write_header()
        .and_then(|mut wr| wr.write_image_data(&buf))
        .map_err(|e| anyhow!("{}: {e}", out.display()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bench::stats::fixtures::{all, sample};

    #[test]
    fn plot_writes_a_png() -> Result<()> {
        if !Path::new(FONT).exists() {
            eprintln!("{FONT} missing: plot not tested");
            return Ok(());
        }
        let s = all(
            sample(60.0, 1.0, Some(0.9), Some(16384.0)),
            sample(50.0, 2.0, Some(0.9), None),
        );
        let dir = std::env::temp_dir().join(format!("vmtest-bench-{}", std::process::id()));
        std::fs::create_dir_all(&dir)?;
        let p = dir.join("plot.png");
        plot(&s, "test", &p)?;
        let img = crate::image::Image::load(&p)?;
        assert_eq!((img.width, img.height), (1200, 1100));
        assert!(img.colours() > 4);
        std::fs::remove_dir_all(&dir).ok();
        Ok(())
    }
}

//! A layered, left-to-right drawing of the service map (Sugiyama style): callers left of callees, edges
//! that skip layers routed through placeholder slots so they never cross a box, node order within a layer
//! chosen to reduce crossings, and coordinates in SVG pixels.

use std::collections::HashMap;

use crate::traces::ServiceMap;

/// Height of a node box.
pub const NODE_HEIGHT: f64 = 56.0;
const MIN_NODE_WIDTH: f64 = 150.0;
const MAX_NODE_WIDTH: f64 = 320.0;
/// Approximate width of one character of a node name (13 px sans-serif, bold).
const CHAR_WIDTH: f64 = 8.0;
/// Horizontal room between layers, where edge labels go.
const LAYER_GAP: f64 = 200.0;
/// Approximate width of one character of an edge label (10.5 px sans-serif).
const LABEL_CHAR_WIDTH: f64 = 5.9;
/// Height of an edge label's box.
const LABEL_HEIGHT: f64 = 14.0;
/// Where along an edge's curves its label may go (0 = start, 1 = end), in order of preference.
const LABEL_SPOTS: [f64; 9] = [0.5, 0.4, 0.6, 0.3, 0.7, 0.22, 0.78, 0.15, 0.85];
const ROW_GAP: f64 = 30.0;
/// Height of the slot an edge takes when it passes through a layer.
const PASS_HEIGHT: f64 = 18.0;
const MARGIN: f64 = 24.0;
/// How far below the drawing edges that go right to left (call cycles) dip.
const BACK_EDGE_DIP: f64 = 46.0;
/// Ordering sweeps (down then up count as two).
const SWEEPS: usize = 8;

/// Where everything goes.
#[derive(Debug, Clone, PartialEq)]
pub struct Layout {
    /// Width of the drawing.
    pub width: f64,
    /// Height of the drawing.
    pub height: f64,
    /// One box per map node, in the map's node order.
    pub nodes: Vec<NodeBox>,
    /// One route per map edge, in the map's edge order.
    pub edges: Vec<EdgeRoute>,
}

/// A node's box.
#[derive(Debug, Clone, PartialEq)]
pub struct NodeBox {
    /// The node's service.
    pub service: String,
    /// Layer, 0 at the left.
    pub layer: usize,
    /// Left edge.
    pub x: f64,
    /// Top edge.
    pub y: f64,
    /// Width.
    pub width: f64,
    /// Height.
    pub height: f64,
}

/// An edge's route.
#[derive(Debug, Clone, PartialEq)]
pub struct EdgeRoute {
    /// Calling service.
    pub from: String,
    /// Called service.
    pub to: String,
    /// SVG path data.
    pub path: String,
    /// Horizontal centre of the edge's label.
    pub label_x: f64,
    /// Baseline of the edge's label (draw it with `text-anchor: middle`).
    pub label_y: f64,
}

#[derive(Debug, Clone, Copy)]
struct Vertex {
    /// The map node, or `None` for a slot an edge passes through.
    node: Option<usize>,
    layer: usize,
    height: f64,
}

/// Lays `map` out; `edge_labels` (in the map's edge order) are placed where they overlap neither nodes nor
/// each other when possible.
pub fn layout(map: &ServiceMap, edge_labels: &[String]) -> Layout {
    let n = map.nodes.len();
    let index: HashMap<&str, usize> = map
        .nodes
        .iter()
        .enumerate()
        .map(|(i, node)| (node.service.as_str(), i))
        .collect();
    let edges: Vec<Option<(usize, usize)>> = map
        .edges
        .iter()
        .map(|e| Some((*index.get(e.from.as_str())?, *index.get(e.to.as_str())?)))
        .collect();
    let (order, layer) = layer_nodes(n, &edges);

    // Vertices: the nodes, then one slot per layer an edge skips over.
    let mut vertices: Vec<Vertex> = (0..n)
        .map(|i| Vertex {
            node: Some(i),
            layer: layer[i],
            height: NODE_HEIGHT,
        })
        .collect();
    let mut chains: Vec<Vec<usize>> = Vec::with_capacity(edges.len());
    for edge in &edges {
        let mut chain = Vec::new();
        if let Some((u, v)) = *edge
            && layer[v] > layer[u]
        {
            chain.push(u);
            for l in layer[u] + 1..layer[v] {
                vertices.push(Vertex {
                    node: None,
                    layer: l,
                    height: PASS_HEIGHT,
                });
                chain.push(vertices.len() - 1);
            }
            chain.push(v);
        }
        chains.push(chain);
    }
    let layers = order_layers(&vertices, &order, &chains);

    // Coordinates.
    let widths: Vec<f64> = map
        .nodes
        .iter()
        .map(|node| node_width(&node.service))
        .collect();
    let column_width: Vec<f64> = layers
        .iter()
        .map(|members| {
            members
                .iter()
                .filter_map(|&v| vertices[v].node.map(|i| widths[i]))
                .fold(MIN_NODE_WIDTH, f64::max)
        })
        .collect();
    let mut column_x = Vec::with_capacity(layers.len());
    let mut x = MARGIN;
    for width in &column_width {
        column_x.push(x);
        x += width + LAYER_GAP;
    }
    let column_height = |members: &[usize]| {
        members.iter().map(|&v| vertices[v].height).sum::<f64>()
            + ROW_GAP * members.len().saturating_sub(1) as f64
    };
    let tallest = layers
        .iter()
        .map(|m| column_height(m))
        .fold(NODE_HEIGHT, f64::max);
    // (x, y, width, height) of every vertex; slots take the full column width.
    let mut place = vec![(0.0, 0.0, 0.0, 0.0); vertices.len()];
    for (l, members) in layers.iter().enumerate() {
        let mut y = MARGIN + (tallest - column_height(members)) / 2.0;
        for &v in members {
            let vertex = vertices[v];
            let (vx, width) = match vertex.node {
                Some(i) => (column_x[l] + (column_width[l] - widths[i]) / 2.0, widths[i]),
                None => (column_x[l], column_width[l]),
            };
            place[v] = (vx, y, width, vertex.height);
            y += vertex.height + ROW_GAP;
        }
    }
    let bottom = MARGIN + tallest;

    let nodes: Vec<NodeBox> = map
        .nodes
        .iter()
        .enumerate()
        .map(|(i, node)| NodeBox {
            service: node.service.clone(),
            layer: layer[i],
            x: place[i].0,
            y: place[i].1,
            width: place[i].2,
            height: place[i].3,
        })
        .collect();
    let mut back_edges = 0;
    let mut routes: Vec<(String, Vec<Curve>)> = Vec::with_capacity(edges.len());
    for (ends, chain) in edges.iter().zip(&chains) {
        routes.push(match *ends {
            Some(_) if chain.len() >= 2 => forward_route(chain, &place),
            Some((u, v)) => {
                back_edges += 1;
                back_route(
                    place[u],
                    place[v],
                    bottom + BACK_EDGE_DIP * back_edges as f64,
                )
            }
            None => (String::new(), Vec::new()),
        });
    }
    let mut taken: Vec<Rect> = nodes
        .iter()
        .map(|n| Rect {
            x: n.x,
            y: n.y,
            width: n.width,
            height: n.height,
        })
        .collect();
    let routes: Vec<EdgeRoute> = map
        .edges
        .iter()
        .zip(routes)
        .enumerate()
        .map(|(k, (edge, (path, curves)))| {
            let label = edge_labels.get(k).map(String::as_str).unwrap_or_default();
            let (label_x, label_y) = place_label(label, &curves, &mut taken);
            EdgeRoute {
                from: edge.from.clone(),
                to: edge.to.clone(),
                path,
                label_x,
                label_y,
            }
        })
        .collect();
    let width = (x - LAYER_GAP + MARGIN).max(2.0 * MARGIN + MIN_NODE_WIDTH);
    let height = bottom + MARGIN + BACK_EDGE_DIP * back_edges as f64;
    Layout {
        width: width.round(),
        height: height.round(),
        nodes,
        edges: routes,
    }
}

/// Box width that fits `service` in bold 13 px.
fn node_width(service: &str) -> f64 {
    (service.chars().count() as f64 * CHAR_WIDTH + 32.0).clamp(MIN_NODE_WIDTH, MAX_NODE_WIDTH)
}

/// Depth-first order of the nodes (sources first, by name order) and each node's layer: the longest
/// path to it from a source, ignoring the edges that close cycles.
fn layer_nodes(n: usize, edges: &[Option<(usize, usize)>]) -> (Vec<usize>, Vec<usize>) {
    let mut out: Vec<Vec<usize>> = vec![Vec::new(); n];
    let mut indegree = vec![0usize; n];
    for &(u, v) in edges.iter().flatten() {
        if u != v {
            out[u].push(v);
            indegree[v] += 1;
        }
    }
    // Iterative DFS; `state` 0 = new, 1 = on the stack, 2 = done. An edge to a node on the stack closes a
    // cycle and is left out of the layering.
    let mut state = vec![0u8; n];
    let mut discovery = Vec::with_capacity(n);
    let mut finish = Vec::with_capacity(n);
    let mut forward: Vec<Vec<usize>> = vec![Vec::new(); n];
    let starts: Vec<usize> = (0..n).filter(|&i| indegree[i] == 0).chain(0..n).collect();
    for start in starts {
        if state[start] != 0 {
            continue;
        }
        state[start] = 1;
        discovery.push(start);
        let mut stack = vec![(start, 0usize)];
        while let Some((u, next)) = stack.pop() {
            if let Some(&v) = out[u].get(next) {
                stack.push((u, next + 1));
                match state[v] {
                    0 => {
                        forward[u].push(v);
                        state[v] = 1;
                        discovery.push(v);
                        stack.push((v, 0));
                    }
                    2 => forward[u].push(v),
                    _ => {}
                }
            } else {
                state[u] = 2;
                finish.push(u);
            }
        }
    }
    let mut layer = vec![0usize; n];
    for &u in finish.iter().rev() {
        for &v in &forward[u] {
            layer[v] = layer[v].max(layer[u] + 1);
        }
    }
    (discovery, layer)
}

/// The vertices of each layer, ordered by repeated barycenter sweeps (each vertex moves towards the mean
/// position of its neighbours in the previous layer), starting from `order`.
fn order_layers(vertices: &[Vertex], order: &[usize], chains: &[Vec<usize>]) -> Vec<Vec<usize>> {
    let depth = vertices.iter().map(|v| v.layer + 1).max().unwrap_or(0);
    let mut layers: Vec<Vec<usize>> = vec![Vec::new(); depth];
    for &i in order {
        layers[vertices[i].layer].push(i);
    }
    for (v, vertex) in vertices.iter().enumerate() {
        if vertex.node.is_none() {
            layers[vertex.layer].push(v);
        }
    }
    let mut up: Vec<Vec<usize>> = vec![Vec::new(); vertices.len()];
    let mut down: Vec<Vec<usize>> = vec![Vec::new(); vertices.len()];
    for chain in chains {
        for pair in chain.windows(2) {
            down[pair[0]].push(pair[1]);
            up[pair[1]].push(pair[0]);
        }
    }
    let mut position = vec![0.0; vertices.len()];
    let number = |layers: &[Vec<usize>], position: &mut [f64]| {
        for members in layers {
            for (p, &v) in members.iter().enumerate() {
                position[v] = p as f64;
            }
        }
    };
    number(&layers, &mut position);
    for sweep in 0..SWEEPS {
        let downward = sweep % 2 == 0;
        let sequence: Vec<usize> = if downward {
            (1..depth).collect()
        } else {
            (0..depth.saturating_sub(1)).rev().collect()
        };
        for l in sequence {
            let neighbours = if downward { &up } else { &down };
            let mut keyed: Vec<(f64, usize)> = layers[l]
                .iter()
                .map(|&v| {
                    let near = &neighbours[v];
                    let key = if near.is_empty() {
                        position[v]
                    } else {
                        near.iter().map(|&w| position[w]).sum::<f64>() / near.len() as f64
                    };
                    (key, v)
                })
                .collect();
            keyed.sort_by(|a, b| a.0.total_cmp(&b.0));
            layers[l] = keyed.into_iter().map(|(_, v)| v).collect();
            for (p, &v) in layers[l].iter().enumerate() {
                position[v] = p as f64;
            }
        }
    }
    layers
}

/// A left-to-right route through `chain` (source, slots, target): curves between layers, straight through
/// slots. Returns the SVG path and its curves.
fn forward_route(chain: &[usize], place: &[(f64, f64, f64, f64)]) -> (String, Vec<Curve>) {
    let centre_y = |v: usize| place[v].1 + place[v].3 / 2.0;
    let first = chain[0];
    let (mut x, mut y) = (place[first].0 + place[first].2, centre_y(first));
    let mut path = format!("M{} {}", fmt(x), fmt(y));
    let mut curves = Vec::new();
    for (k, &v) in chain.iter().enumerate().skip(1) {
        let (tx, ty) = (place[v].0, centre_y(v));
        let bend = (tx - x) / 2.0;
        let curve = Curve([(x, y), (x + bend, y), (tx - bend, ty), (tx, ty)]);
        path.push_str(&curve.svg());
        curves.push(curve);
        x = tx;
        y = ty;
        if k + 1 < chain.len() {
            x = place[v].0 + place[v].2;
            path.push_str(&format!(" L{} {}", fmt(x), fmt(y)));
        }
    }
    (path, curves)
}

/// A route from the bottom of `from` down to `dip` and back up into the bottom of `to`, for edges that go
/// right to left.
fn back_route(
    from: (f64, f64, f64, f64),
    to: (f64, f64, f64, f64),
    dip: f64,
) -> (String, Vec<Curve>) {
    let (sx, sy) = (from.0 + from.2 / 2.0, from.1 + from.3);
    let (tx, ty) = (to.0 + to.2 / 2.0, to.1 + to.3);
    let curve = Curve([(sx, sy), (sx, dip), (tx, dip), (tx, ty)]);
    (
        format!("M{} {}{}", fmt(sx), fmt(sy), curve.svg()),
        vec![curve],
    )
}

/// Centre and baseline of `label` on one of `curves`: the first of a few spots along them, middle first,
/// whose box overlaps neither a node nor a label placed before; the middle of the first curve when every
/// spot is taken. The chosen box joins `taken`.
fn place_label(label: &str, curves: &[Curve], taken: &mut Vec<Rect>) -> (f64, f64) {
    let Some(first) = curves.first() else {
        return (0.0, 0.0);
    };
    let width = label.chars().count() as f64 * LABEL_CHAR_WIDTH + 6.0;
    let rect_at = |(x, y): (f64, f64)| Rect {
        x: x - width / 2.0,
        y: y - LABEL_HEIGHT / 2.0,
        width,
        height: LABEL_HEIGHT,
    };
    let spot = curves
        .iter()
        .flat_map(|c| LABEL_SPOTS.iter().map(move |&t| c.at(t)))
        .find(|&p| {
            let r = rect_at(p);
            !taken.iter().any(|o| o.overlaps(&r))
        })
        .unwrap_or_else(|| first.at(0.5));
    taken.push(rect_at(spot));
    // Text is drawn from its baseline: a third of the height below the centre.
    (spot.0.round(), (spot.1 + LABEL_HEIGHT / 3.0).round())
}

/// A cubic Bézier curve.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Curve([(f64, f64); 4]);

/// An axis-aligned box.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Rect {
    x: f64,
    y: f64,
    width: f64,
    height: f64,
}

impl Curve {
    /// The point at parameter `t` (0 = start, 1 = end).
    fn at(&self, t: f64) -> (f64, f64) {
        let [p0, p1, p2, p3] = self.0;
        let u = 1.0 - t;
        let (a, b, c, d) = (u * u * u, 3.0 * u * u * t, 3.0 * u * t * t, t * t * t);
        (
            a * p0.0 + b * p1.0 + c * p2.0 + d * p3.0,
            a * p0.1 + b * p1.1 + c * p2.1 + d * p3.1,
        )
    }

    /// ` C…` path data (the curve continues the path from its first point).
    fn svg(&self) -> String {
        let [_, p1, p2, p3] = self.0;
        format!(
            " C{} {} {} {} {} {}",
            fmt(p1.0),
            fmt(p1.1),
            fmt(p2.0),
            fmt(p2.1),
            fmt(p3.0),
            fmt(p3.1)
        )
    }
}

impl Rect {
    fn overlaps(&self, other: &Rect) -> bool {
        self.x < other.x + other.width
            && other.x < self.x + self.width
            && self.y < other.y + other.height
            && other.y < self.y + self.height
    }
}

fn fmt(v: f64) -> String {
    format!("{:.1}", v)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::traces::{CallStats, NodeKind, ServiceEdge, ServiceNode};

    fn map(nodes: &[&str], edges: &[(&str, &str)]) -> ServiceMap {
        ServiceMap {
            nodes: nodes
                .iter()
                .map(|s| ServiceNode {
                    service: (*s).to_owned(),
                    kind: NodeKind::Service,
                    stats: CallStats::default(),
                })
                .collect(),
            edges: edges
                .iter()
                .map(|(f, t)| ServiceEdge {
                    from: (*f).to_owned(),
                    to: (*t).to_owned(),
                    stats: CallStats::default(),
                })
                .collect(),
            ..ServiceMap::default()
        }
    }

    fn node<'a>(layout: &'a Layout, service: &str) -> &'a NodeBox {
        layout.nodes.iter().find(|n| n.service == service).unwrap()
    }

    #[test]
    fn callers_sit_left_of_callees_and_boxes_never_overlap() {
        let map = map(
            &["a1", "a2", "b1", "b2", "llm", "root"],
            &[
                ("root", "a1"),
                ("root", "a2"),
                ("a1", "b1"),
                ("a2", "b2"),
                ("a1", "llm"),
                ("root", "llm"),
            ],
        );
        let labels: Vec<String> = map
            .edges
            .iter()
            .map(|e| format!("{} → {} · 12 req · p95 35.1 ms", e.from, e.to))
            .collect();
        let layout = layout(&map, &labels);
        assert_eq!(node(&layout, "root").layer, 0);
        assert_eq!(node(&layout, "a1").layer, 1);
        assert_eq!(node(&layout, "llm").layer, 2, "longest path wins");
        for e in &map.edges {
            assert!(
                node(&layout, &e.from).x + node(&layout, &e.from).width < node(&layout, &e.to).x
            );
        }
        for a in &layout.nodes {
            for b in &layout.nodes {
                if a.service != b.service && a.layer == b.layer {
                    assert!(
                        a.y + a.height <= b.y || b.y + b.height <= a.y,
                        "{a:?} {b:?}"
                    );
                }
            }
            assert!(a.x >= 0.0 && a.x + a.width <= layout.width);
            assert!(a.y >= 0.0 && a.y + a.height <= layout.height);
        }
        // root → llm skips layer 1: it passes through a slot, so its path has a straight stretch.
        let skip = layout
            .edges
            .iter()
            .find(|e| e.from == "root" && e.to == "llm")
            .unwrap();
        assert!(skip.path.contains(" L"), "{}", skip.path);
        // labels overlap neither nodes nor each other
        let label_box = |k: usize| {
            let e = &layout.edges[k];
            let width = labels[k].chars().count() as f64 * LABEL_CHAR_WIDTH + 6.0;
            let centre = e.label_y - LABEL_HEIGHT / 3.0;
            Rect {
                x: e.label_x - width / 2.0,
                y: centre - LABEL_HEIGHT / 2.0,
                width,
                height: LABEL_HEIGHT,
            }
        };
        for a in 0..labels.len() {
            for b in a + 1..labels.len() {
                // rounding moves a box by at most a pixel
                let (mut ra, rb) = (label_box(a), label_box(b));
                ra.x += 1.0;
                ra.width -= 2.0;
                ra.y += 1.0;
                ra.height -= 2.0;
                assert!(!ra.overlaps(&rb), "{} and {}", labels[a], labels[b]);
            }
        }
        // the barycenter keeps b1 level with its caller a1
        assert_eq!(
            node(&layout, "a1").y < node(&layout, "a2").y,
            node(&layout, "b1").y < node(&layout, "b2").y
        );
    }

    #[test]
    fn cycles_and_empty_maps_still_lay_out() {
        let layout = layout(&map(&["a", "b"], &[("a", "b"), ("b", "a")]), &[]);
        assert_eq!(node(&layout, "a").layer + 1, node(&layout, "b").layer);
        assert!(layout.edges.iter().all(|e| e.path.starts_with('M')));
        assert!(
            layout.height > NODE_HEIGHT + 2.0 * MARGIN,
            "room for the back edge"
        );
        let empty = super::layout(&ServiceMap::default(), &[]);
        assert!(empty.nodes.is_empty() && empty.width > 0.0);
    }
}

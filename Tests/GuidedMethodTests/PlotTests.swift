import Foundation
import GuidedMethod
import Testing

@Suite struct PlotTests {
    @Test func lineChartIsWellFormedWithOnePointPerDrawableValue() throws {
        let points = (0..<7).map { PlotPoint(Double($0), Double($0 * $0)) }
        var chart = LineChart(title: "Squares <&> \"quoted\"", x: Axis("x"), y: Axis("y"),
                              series: [Series("n²", points, style: .markers)])
        var xml = XMLSummary(chart.svg())
        #expect(xml.error == nil)
        #expect(xml.count("circle") == 7)
        #expect(xml.text.contains("Squares <&> \"quoted\""))

        // On a log axis the zero is left out; a line has one vertex per drawable point.
        chart.y = Axis("y", scale: .log10)
        chart.series = [Series("n²", points, style: .line), Series("p", points.map { PlotPoint($0.x, 0.5) }, onSecondaryAxis: true)]
        chart.y2 = Axis("p", range: 0...1)
        xml = XMLSummary(chart.svg())
        #expect(xml.error == nil)
        let lines = xml.all("polyline").compactMap { $0["points"] }
        #expect(lines.map { $0.split(separator: " ").count } == [6, 7])
        #expect(xml.text.contains("1e2"))  // a decade tick label
    }

    @Test func barChartHasOneBarPerCategoryAndRotatedLabels() throws {
        let names = ["embeddings", "encoder.layer.0.attention.self", "encoder.layer.0.output", "pooler", "cls"]
        var chart = BarChart(title: "Scores", categories: names, values: [3, 1, 2, 0.5, 4], xLabel: "group", y: Axis("score"),
                             y2: Axis("p", range: 0...0.1), overlay: Series("dropout p", (0..<5).map { PlotPoint(Double($0), 0.02 * Double($0)) }))
        chart.legend = [("site", "#1f77b4")]
        let xml = XMLSummary(chart.svg())
        #expect(xml.error == nil)
        #expect(xml.count("title") == 5)  // one tooltip per bar
        let rotated = xml.all("text").filter { $0["transform"]?.hasPrefix("rotate(-60") == true }
        #expect(rotated.count == 5)
        #expect(xml.all("polyline").first?["points"]?.split(separator: " ").count == 5)
    }

    @Test func heatmapWithContoursAndColourBar() throws {
        let xs = (-4...4).map { Double($0) / 2 }, ys = (-3...3).map { Double($0) / 2 }
        let values = ys.map { y in xs.map { x in x * x + y * y } }
        var map = Heatmap(title: "Loss surface", xs: xs, ys: ys, values: values, xLabel: "α", yLabel: "β", colorLabel: "loss")
        map.contourLevels = [1, 2]
        let xml = XMLSummary(map.svg())
        #expect(xml.error == nil)
        #expect(xml.count("rect") >= xs.count * ys.count + 64)
        #expect(xml.all("path").count == 2)  // one path per contour level

        // Marching squares: a vertical contour through the middle of one cell, and a saddle.
        let segments = Contours.segments(xs: [0, 1], ys: [0, 1], values: [[0, 1], [0, 1]], level: 0.5)
        #expect(segments == [Contours.Segment(a: PlotPoint(0.5, 0), b: PlotPoint(0.5, 1))])
        #expect(Contours.segments(xs: [0, 1], ys: [0, 1], values: [[1, 0], [0, 1]], level: 0.5).count == 2)
        // A circle of radius 1 closes: every crossing point lies on it (up to linear interpolation).
        let circle = Contours.segments(xs: xs, ys: ys, values: values, level: 1)
        #expect(circle.count >= 8)
        #expect(circle.allSatisfy { abs(($0.a.x * $0.a.x + $0.a.y * $0.a.y).squareRoot() - 1) < 0.15 })
    }

    @Test func boxPlotSummariesAndDrawing() throws {
        let summary = try #require(BoxPlot.summary([1, 2, 3, 4, 100]))
        #expect(summary.q1 == 2 && summary.median == 3 && summary.q3 == 4)
        #expect(summary.upperWhisker == 4 && summary.lowerWhisker == 1)
        #expect(summary.outliers == [100])
        #expect(BoxPlot.summary([]) == nil)
        let plot = BoxPlot(title: "Restarts", groups: [.init("dropout", [0.5, 0.52, 0.55]), .init("guided", [0.58, 0.6, 0.61, 0.7])],
                           xLabel: "regularizer", y: Axis("MCC"))
        let xml = XMLSummary(plot.svg())
        #expect(xml.error == nil)
        #expect(xml.count("circle") == 7)
    }

    @Test func sortedCurveSubsampleKeepsTheTailAndTheMaximum() {
        let n = 1_000_000
        let ranks = TopSelection.sortedCurveRanks(count: n, limit: 5000)
        #expect(ranks.count <= 5000)
        #expect(ranks.count > 4000)
        #expect(ranks.first == 0 && ranks.last == n - 1)
        #expect(zip(ranks, ranks.dropFirst()).allSatisfy { $0 < $1 })
        let kept = Set(ranks)
        #expect((n - 1000..<n).allSatisfy { kept.contains($0) })  // the top 0.1%, exactly
        #expect(TopSelection.sortedCurveRanks(count: 300, limit: 5000) == Array(0..<300))
        // A huge model: the exact tail is capped, the budget still holds.
        let huge = TopSelection.sortedCurveRanks(count: 110_000_000, limit: 5000)
        #expect(huge.count <= 5000 && huge.last == 110_000_000 - 1)
        #expect((110_000_000 - 2000..<110_000_000).allSatisfy { Set(huge.suffix(2000)).contains($0) })
    }

    @Test func fisherPlotsFromAReport() throws {
        // 20,000 values with one large maximum and some zeros.
        let n = 20_000
        var values = (0..<n).map { Float(($0 * 7919) % 1000) * 1e-6 }
        values[12_345] = 0.5
        let fisher = try FisherFile(names: ["w", "b"], shapes: ["w": [n - 100], "b": [100]],
                                    values: ["w": Array(values[..<(n - 100)]), "b": Array(values[(n - 100)...])], metadata: [:])
        let groups = [LayerGroup(name: "w", tensors: ["w"], site: nil), LayerGroup(name: "b", tensors: ["b"], site: nil)]
        let report = try FisherReport(fisher: fisher, groups: groups)
        #expect(report.sortedCurve.count <= 5000)
        #expect(report.sortedCurve.last == FisherReport.SortedPoint(rank: n - 1, value: 0.5))

        let folder = try temporaryFolder("fisher-plots")
        let urls = try writeFisherPlots(report: report, to: folder.appendingPathComponent("plots"))
        #expect(urls.map(\.lastPathComponent) == ["fisher-parameters-sorted.svg", "fisher-groups-sorted.svg",
                                                  "fisher-groups-network-order.svg"])
        for url in urls { #expect(XMLSummary(try String(contentsOf: url, encoding: .utf8)).error == nil, "\(url.lastPathComponent)") }
        let sorted = XMLSummary(try String(contentsOf: urls[0], encoding: .utf8))
        let positive = report.sortedCurve.filter { $0.value > 0 }.count
        #expect(sorted.all("polyline").first?["points"]?.split(separator: " ").count == positive)
        let network = XMLSummary(try String(contentsOf: urls[2], encoding: .utf8))
        #expect(network.count("title") == 2)
    }

    @Test func escapingAndNumbers() {
        #expect(SVGDocument.escape("a<b & \"c\" 'd'\u{1}") == "a&lt;b &amp; &quot;c&quot; &apos;d&apos;")
        #expect(SVGDocument.number(12) == "12")
        #expect(SVGDocument.number(3.5) == "3.5")
        #expect(SVGDocument.number(-0.254) == "-0.25")
        #expect(SVGDocument.number(.nan) == "0")
    }
}

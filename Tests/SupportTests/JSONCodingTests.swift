import Support
import Testing

@Suite("Codable over JSONValue")
struct JSONCodingTests {
    enum Colour: String, NamedChoice, Codable { case black, white }

    struct Inner: Codable, Equatable {
        var name: String
        var scores: [Double]
    }

    struct Outer: Codable, Equatable {
        var zulu: Int
        var alpha: String?
        var colour: Colour
        var inner: Inner?
        var counts: [UInt64]
        var extra: JSONValue
        var flag: Bool

        enum CodingKeys: String, CodingKey {
            case zulu, alpha, colour, inner, counts, extra = "extra_details", flag
        }
    }

    static let sample = Outer(
        zulu: 3, alpha: nil, colour: .black, inner: Inner(name: "bo", scores: [0.5, 1]),
        counts: [0, 4_294_967_296], extra: ["a": [1, "x", nil], "b": true], flag: false)

    @Test("members keep the declared order, empty optionals are left out, JSONValue passes through")
    func encodesInOrder() throws {
        let text = try JSONValueEncoder().encode(Self.sample).serialized()
        #expect(
            text
                == #"{"zulu":3,"colour":"black","inner":{"name":"bo","scores":[0.5,1]},"counts":[0,4294967296],"extra_details":{"a":[1,"x",null],"b":true},"flag":false}"#
        )
    }

    @Test("what is encoded decodes to the same value")
    func roundTrips() throws {
        let value = try JSONValueEncoder().encode(Self.sample)
        #expect(try JSONValueDecoder().decode(Outer.self, from: value) == Self.sample)
        #expect(try JSONValueDecoder().decode(Outer.self, from: value.serialized()) == Self.sample)
    }

    @Test(
        "errors name the field and what is wrong",
        arguments: [
            (#"{"colour":"black","counts":[],"extra_details":null,"flag":true}"#, #"field "zulu": missing"#),
            (
                #"{"zulu":2.5,"colour":"black","counts":[],"extra_details":null,"flag":true}"#,
                #"field "zulu": expected a whole number in range, got 2.5"#
            ),
            (
                #"{"zulu":1,"colour":"grey","counts":[],"extra_details":null,"flag":true}"#,
                #"field "colour": is "grey", not one of black, white"#
            ),
            (
                #"{"zulu":1,"colour":"black","counts":[1,-1],"extra_details":null,"flag":true}"#,
                #"field "counts[1]": expected a whole number in range, got -1"#
            ),
            (
                #"{"zulu":1,"colour":"black","inner":{"name":"x","scores":["a"]},"counts":[],"extra_details":null,"flag":true}"#,
                #"field "inner.scores[0]": expected a number, got "a""#
            ),
            (
                #"{"zulu":1,"colour":"black","counts":[],"extra_details":null,"flag":"yes"}"#,
                #"field "flag": expected true or false, got "yes""#
            ),
            (#"[1]"#, #"expected an object, got [1]"#),
        ])
    func errors(text: String, message: String) throws {
        do {
            _ = try JSONValueDecoder().decode(Outer.self, from: try JSONValue.parse(text))
            Issue.record("decoded \(text)")
        } catch {
            #expect("\(error)" == message)
        }
    }

    @Test("the strict parser stays in front: duplicate keys are refused before decoding")
    func strictParsing() {
        #expect(throws: JSONError.self) {
            _ = try JSONValueDecoder().decode(Inner.self, from: #"{"name":"a","name":"b","scores":[]}"#)
        }
    }

    struct Closed: Codable, Equatable {
        var name: String
        var inner: Inner?
        enum CodingKeys: String, ExhaustiveCodingKey { case name, inner }
    }

    @Test("exhaustive coding keys refuse unknown fields, naming them; other types ignore them")
    func unknownFields() throws {
        let decoder = JSONValueDecoder()
        #expect(try decoder.decode(Closed.self, from: #"{"name":"a"}"#) == Closed(name: "a"))
        #expect(throws: JSONDecodingError(path: "extra", reason: "unknown field")) {
            _ = try decoder.decode(Closed.self, from: #"{"name":"a","extra":1}"#)
        }
        // Nested types keep their own rule: Inner's keys are not exhaustive.
        let nested = try decoder.decode(Closed.self, from: #"{"name":"a","inner":{"name":"b","scores":[],"x":0}}"#)
        #expect(nested.inner == Inner(name: "b", scores: []))
        #expect(throws: JSONDecodingError(path: "[1].extra", reason: "unknown field")) {
            _ = try decoder.decode([Closed].self, from: #"[{"name":"a"},{"name":"b","extra":null}]"#)
        }
    }

    @Test("integers beyond JSON's exact range are refused when encoding")
    func inexactIntegers() {
        #expect(throws: EncodingError.self) { _ = try JSONValueEncoder().encode([UInt64.max]) }
    }
}

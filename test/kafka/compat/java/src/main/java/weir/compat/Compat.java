// The Java client side of the Kafka compatibility suite (test/kafka/compat/java.test.ts): runs the
// steps named on its command line against one bootstrap address, with whichever kafka-clients
// version is on the classpath, and prints one JSON line per thing it saw, for the test to compare
// with what it wrote and what weir stored. Bytes (keys, values, header values) are printed as hex,
// so the comparison is byte for byte. A step's failure is printed as an "error" line with the
// exception's class; the program goes on with the next step.
//
//   java weir.compat.Compat BOOTSTRAP STEP...
//   produce:TOPIC:FILE:CODEC      records from FILE (one per line: partition, timestamp, key, value,
//                                 headers, tab-separated; '-' for null, hex otherwise, headers as
//                                 name=hex joined by ','), idempotent, acks=all, compression.type
//                                 CODEC (none, gzip...); prints "sent"
//   consume:TOPIC:PARTITIONS:N    assign + seek to 0 on partitions 0..PARTITIONS-1, poll until N
//                                 records (or 20 s); prints "record" each, then "consumed"
//   group:TOPIC:GROUP:N           subscribe as GROUP (group.protocol=classic), poll until N records
//   missing:TOPIC                 one record to a topic that does not exist (max.block.ms 2 s)
//   big:TOPIC:BYTES               one record of BYTES bytes (the client's own limit raised)
//   deleted:TOPIC                 partitionsFor, then assign + poll 1.5 s on partition 0
package weir.compat;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Properties;
import java.util.concurrent.Future;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.clients.producer.RecordMetadata;
import org.apache.kafka.common.PartitionInfo;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.header.Header;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.common.serialization.ByteArraySerializer;

public final class Compat {
  private static final HexFormat HEX = HexFormat.of();

  public static void main(String[] args) {
    String bootstrap = args[0];
    for (int i = 1; i < args.length; i++) {
      String[] step = args[i].split(":");
      try {
        switch (step[0]) {
          case "produce" -> produce(bootstrap, step[1], Path.of(step[2]), step[3]);
          case "consume" -> consume(bootstrap, step[1], Integer.parseInt(step[2]), Integer.parseInt(step[3]), null);
          case "group" -> consume(bootstrap, step[1], 0, Integer.parseInt(step[3]), step[2]);
          case "missing" -> sendOne(bootstrap, step[1], new byte[] {1}, "2000");
          case "big" -> sendOne(bootstrap, step[1], new byte[Integer.parseInt(step[2])], "60000");
          case "deleted" -> deleted(bootstrap, step[1]);
          default -> throw new IllegalArgumentException("unknown step " + step[0]);
        }
      } catch (Exception e) {
        Throwable cause = e.getCause() != null && e instanceof java.util.concurrent.ExecutionException ? e.getCause() : e;
        line("error", "\"step\":" + str(step[0]) + ",\"error\":" + str(cause.getClass().getSimpleName())
            + ",\"message\":" + str(String.valueOf(cause.getMessage())));
      }
    }
    System.out.flush();
  }

  private static Properties producerConfig(String bootstrap) {
    Properties p = new Properties();
    p.put("bootstrap.servers", bootstrap);
    p.put("key.serializer", ByteArraySerializer.class.getName());
    p.put("value.serializer", ByteArraySerializer.class.getName());
    p.put("enable.idempotence", "true");
    p.put("acks", "all");
    p.put("linger.ms", "5");
    p.put("compression.type", "none");
    p.put("delivery.timeout.ms", "30000");
    p.put("request.timeout.ms", "10000");
    p.put("retry.backoff.ms", "50");
    return p;
  }

  private static void produce(String bootstrap, String topic, Path file, String codec) throws Exception {
    List<Future<RecordMetadata>> sent = new ArrayList<>();
    Properties config = producerConfig(bootstrap);
    config.put("compression.type", codec);
    try (KafkaProducer<byte[], byte[]> producer = new KafkaProducer<>(config)) {
      for (String l : Files.readAllLines(file, StandardCharsets.UTF_8)) {
        if (l.isEmpty()) continue;
        String[] f = l.split("\t", -1);
        ProducerRecord<byte[], byte[]> r = new ProducerRecord<>(topic, Integer.parseInt(f[0]),
            Long.parseLong(f[1]), bytes(f[2]), bytes(f[3]));
        if (!f[4].isEmpty())
          for (String h : f[4].split(",")) {
            int eq = h.indexOf('=');
            r.headers().add(h.substring(0, eq), bytes(h.substring(eq + 1)));
          }
        sent.add(producer.send(r));
      }
      producer.flush();
      for (Future<RecordMetadata> f : sent) {
        RecordMetadata m = f.get();
        line("sent", "\"partition\":" + m.partition() + ",\"offset\":" + m.offset() + ",\"timestamp\":" + m.timestamp());
      }
    }
  }

  private static void consume(String bootstrap, String topic, int partitions, int want, String group) {
    Properties p = new Properties();
    p.put("bootstrap.servers", bootstrap);
    p.put("key.deserializer", ByteArrayDeserializer.class.getName());
    p.put("value.deserializer", ByteArrayDeserializer.class.getName());
    p.put("enable.auto.commit", "false");
    p.put("auto.offset.reset", "earliest");
    if (group != null) {
      p.put("group.id", group);
      p.put("group.protocol", "classic");
    }
    int got = 0;
    try (KafkaConsumer<byte[], byte[]> consumer = new KafkaConsumer<>(p)) {
      if (group == null) {
        List<TopicPartition> tps = new ArrayList<>();
        for (int i = 0; i < partitions; i++) tps.add(new TopicPartition(topic, i));
        consumer.assign(tps);
        for (TopicPartition tp : tps) consumer.seek(tp, 0);
      } else {
        consumer.subscribe(List.of(topic));
      }
      long deadline = System.currentTimeMillis() + 20_000;
      while (got < want && System.currentTimeMillis() < deadline) {
        for (ConsumerRecord<byte[], byte[]> r : consumer.poll(Duration.ofMillis(200))) {
          got++;
          StringBuilder hs = new StringBuilder("[");
          for (Header h : r.headers()) {
            if (hs.length() > 1) hs.append(',');
            hs.append('[').append(str(h.key())).append(',').append(hex(h.value())).append(']');
          }
          hs.append(']');
          line("record", "\"partition\":" + r.partition() + ",\"offset\":" + r.offset() + ",\"timestamp\":"
              + r.timestamp() + ",\"timestampType\":" + str(r.timestampType().toString()) + ",\"key\":"
              + hex(r.key()) + ",\"value\":" + hex(r.value()) + ",\"headers\":" + hs);
        }
      }
    }
    line("consumed", "\"count\":" + got);
  }

  private static void sendOne(String bootstrap, String topic, byte[] value, String maxBlockMs) throws Exception {
    Properties p = producerConfig(bootstrap);
    p.put("max.block.ms", maxBlockMs);
    p.put("max.request.size", String.valueOf(value.length + 10_000));
    p.put("buffer.memory", String.valueOf(Math.max(33_554_432, value.length * 2)));
    p.put("delivery.timeout.ms", "15000");
    try (KafkaProducer<byte[], byte[]> producer = new KafkaProducer<>(p)) {
      RecordMetadata m = producer.send(new ProducerRecord<>(topic, 0, null, value)).get();
      line("sent", "\"partition\":" + m.partition() + ",\"offset\":" + m.offset() + ",\"timestamp\":" + m.timestamp());
    }
  }

  private static void deleted(String bootstrap, String topic) {
    Properties p = new Properties();
    p.put("bootstrap.servers", bootstrap);
    p.put("key.deserializer", ByteArrayDeserializer.class.getName());
    p.put("value.deserializer", ByteArrayDeserializer.class.getName());
    p.put("default.api.timeout.ms", "3000");
    try (KafkaConsumer<byte[], byte[]> consumer = new KafkaConsumer<>(p)) {
      List<PartitionInfo> parts = consumer.partitionsFor(topic, Duration.ofSeconds(3));
      line("partitions", "\"count\":" + (parts == null ? -1 : parts.size()));
      consumer.assign(List.of(new TopicPartition(topic, 0)));
      consumer.seek(new TopicPartition(topic, 0), 0);
      int got = 0;
      long deadline = System.currentTimeMillis() + 1_500;
      while (System.currentTimeMillis() < deadline) got += consumer.poll(Duration.ofMillis(200)).count();
      line("consumed", "\"count\":" + got);
    }
  }

  private static byte[] bytes(String field) {
    return field.equals("-") ? null : HEX.parseHex(field);
  }

  private static String hex(byte[] b) {
    return b == null ? "null" : "\"" + HEX.formatHex(b) + "\"";
  }

  private static String str(String s) {
    StringBuilder out = new StringBuilder("\"");
    for (char c : s.toCharArray()) {
      if (c == '"' || c == '\\') out.append('\\').append(c);
      else if (c < 0x20) out.append(String.format("\\u%04x", (int) c));
      else out.append(c);
    }
    return out.append('"').toString();
  }

  private static void line(String op, String fields) {
    System.out.println("{\"op\":\"" + op + "\"," + fields + "}");
  }
}
